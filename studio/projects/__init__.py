"""Projects: a selection of the studio (voices, generations, votes, saved comparisons) as ONE zip, and that zip
imported elsewhere.

The format (version 2)
----------------------
A project is a zip file holding `manifest.json` and the audio files it names. Audio is stored uncompressed
(ZIP_STORED), the manifest deflated. Zip member names are relative POSIX paths:

    manifest.json
    samples/<sample id>/original<suffix>      the file as the user gave it (.wav, .mp3, .m4a, .mp4, ...)
    samples/<sample id>/normalised.wav        the mono copy engines read
    uploads/<upload id>/original<suffix>      clips generations or votes used (a conversion's source, ...)
    uploads/<upload id>/normalised.wav
    generations/<generation id>.wav

`manifest.json` is one JSON object:

    format        "amphion-studio-project"
    version       2 (an importer refuses a version newer than its own, and says to update the studio; version 1
                  is version 2 without `comparisons`, and is still read)
    created_at    seconds since the epoch; studio_version: the exporting studio's version
    profiles      [{id, name, description, language, created_at, updated_at}]
    samples       [{id, profile_id, name, duration, sample_rate, channels, audio_hash, transcript,
                    transcript_source, words (timed words: [{word, start, end, ...}] or null), language, source,
                    source_ref, root_id, parent_id, fix, measures (the reference doctor's, or null), created_at,
                    original: FILE, normalised: FILE}]
    uploads       [{id, name, duration, sample_rate, channels, size_bytes, created_at, original: FILE,
                    normalised: FILE}]
    generations   [{id, task, engine_id, title, text, profile_id, inputs, params, seed, duration, sample_rate,
                    channels, rtf, engine_seconds, extras, created_at, original_id, take, last_take_at, favourite,
                    rating, tags, notes, audio: FILE}]
    votes         [{round_id, item ("generation:<id>" or "upload:<id>"), label, engine_id, profile_id, chosen,
                    created_at}]  (one row per clip of a blind round)
    comparisons   [{id, name, clips (clip keys as votes name them, in order), created_at, updated_at}]  (saved
                    comparisons, since version 2)

FILE is {path: the zip member, size: bytes, sha256: hex digest}. Field meanings are those of the tables
(studio/library/tables.py, studio/uploads.py, studio/history/table.py). A sample's versions are linked by
root_id/parent_id (lineage), a generation's takes by original_id/take. An audio input of a generation is a
reference such as {"profile": id, "sample": id, "profile_name", "sample_name", "name", "duration", "transcript"}
or {"upload": id, ...}; file paths are not part of the format: the importing studio puts them back from the
references.

What an export holds
--------------------
The profiles chosen, each with all its samples and their versions; the saved comparisons chosen, with the
generations and uploads they compare; the generations chosen (or compared), each with all the takes of its
group; the profiles, samples and uploads those generations used as references (so they can be re-run), and the
blind-comparison rounds they took part in (with the uploads voted on). A comparison keeps only the clips that
still exist.

What an import does
-------------------
Everything or nothing: the zip is checked (unsafe member names, links, encryption, declared and actual sizes,
checksums, readable audio, a consistent manifest) before anything is written; files are staged, moved into
place, and the rows inserted in one transaction; any failure removes what was placed, and a crash is cleaned
up at the next start. An id already used in this studio gets a new one, changed consistently everywhere it is
referenced (sample lineage, takes, audio references, votes' and comparisons' clip keys, sample sources). A voice whose name is
taken is imported as "Name (imported)" (then "Name (imported 2)", ...).
"""
from .errors import ProjectError
from .exporter import ExportSummary, Selection
from .import_plan import ImportedProfile, ImportReport
from .manifest import FORMAT, VERSION
from .service import ProjectService

__all__ = ["FORMAT", "VERSION", "ExportSummary", "ImportReport", "ImportedProfile", "ProjectError", "ProjectService",
           "Selection"]
