"""Engine benchmark on tiny weights: prints numbers measured in one run (not a test; nothing here asserts).

    .venv/bin/python tests/benchmarks/bench_engines.py [ENGINE_ID ...]

Per engine, through the studio's own job queue and model manager:
- load: seconds to load (the model manager's measurement; for isolated engines this includes starting the
  runtime's worker process)
- first chunk: seconds from submitting a text long enough to be spoken in several chunks (or parts, for
  DualCodec-VALLE, which splits inside its package) to the moment the second one starts, i.e. the first is done;
  marked "(whole)" where the engine does not split it, and then it is the whole job's time
- RTF: engine time / audio duration for that multi-chunk request (below 1 is faster than real time)
- memory: the footprint the model manager measured, against the engine's declared estimate (`memory_mb`), and
  their ratio, flagged "!!" above 1.5x

Weights: Hibari ships real ones; the peers, the Vevo family, MaskGCT, Metis TTS and DualCodec-VALLE run on the
tiny random-weight checkpoints the tests build (tests/runtimes, tests/amphion_tiny, tests/maskgct_tiny.py,
tests/dualcodec_tiny.py; the Amphion cases need AMPHION_ROOT), so their speed and memory say how the machinery
performs, not the released models (add an
Amphion engine by appending a Case whose `prepare` lays its tiny checkpoint into the hub cache).

Conversion engines (a Case with `clips`) convert a 21.5 s clip (three 10 s segments for the SVC recipes) for
"first chunk" and RTF; the Amphion ones need AMPHION_ROOT.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

SENTENCE = "The quick brown fox jumps over the lazy dog."
LONGER = ("The studio keeps every voice you make. It measures each model as it loads, keeps the total under a "
          "budget you choose, and frees the memory again when you are done.")


@dataclass
class Case:
    engine_id: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: Callable[[Path], dict[str, Any]] = lambda work: {}
    prepare: Callable[[Path, Path], None] = lambda hub, work: None  # lay weights into the hub cache
    clips: Callable[[Path, float], dict[str, Any]] | None = None  # conversion: its audio inputs, `seconds` long
    texts: tuple[str, str] = ("", "")  # (one sentence, a longer text); default SENTENCE, LONGER


def _qwen(hub: Path, work: Path) -> None:
    from tests.runtimes import tiny

    folder = tiny.tiny_checkpoint(tiny.built("qwen-tts"), "build_tiny_qwen3_tts", "base", "custom_voice",
                                  "voice_design")
    tiny.link_into_hub_cache(hub, "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice", folder / "custom_voice")


def _chatterbox(hub: Path, work: Path) -> None:
    from tests.runtimes import tiny

    clip = tiny.reference_clip(work / "reference.wav")
    folder = tiny.tiny_checkpoint(tiny.built("chatterbox-tts"), "build_tiny_chatterbox", str(clip))
    tiny.link_into_hub_cache(hub, "ResembleAI/chatterbox", folder)


def _vevo(hub: Path, work: Path) -> None:
    """Tiny amphion/Vevo and amphion/Vevo1.5 and tiny encoders; needs AMPHION_ROOT, mirrored (with the G2P's large
    files when the checkout lacks them) so that its stock Vevo configs can be the tiny models' (tests/amphion_tiny)."""
    import torchaudio
    import whisper

    from engines.amphion.runtime import AmphionRuntime
    from tests.amphion_checkout import complete_checkout
    from tests.amphion_tiny import vevo as tiny

    if not os.environ.get("AMPHION_ROOT"):
        raise RuntimeError("set AMPHION_ROOT to an Amphion checkout")
    root = complete_checkout(Path(os.environ["AMPHION_ROOT"]), TINY / "Amphion")
    os.environ["AMPHION_ROOT"] = str(root)
    rt = AmphionRuntime(root)
    for repo_id, folder in (("amphion/Vevo", tiny.build_vevo(rt, work)), ("amphion/Vevo1.5", tiny.build_vevo15(rt, work))):
        _lay_out(hub, repo_id, folder)
    os.environ.update(TORCH_HOME=str(work / "torch"), XDG_CACHE_HOME=str(work))
    torchaudio.pipelines.HUBERT_LARGE = tiny.install_tiny_hubert(work / "torch")
    whisper._MODELS["medium"] = tiny.install_tiny_whisper(work / "whisper")
    for name, hz in (("source", 180), ("reference", 260)):
        tiny.tone(work / f"{name}.wav", 4.0, hz)


def _clip(work: Path, name: str, transcript: str | None = None) -> dict[str, Any]:
    return {"path": str(work / f"{name}.wav"), "transcript": transcript}


VEVO_AR = {"flow_matching_steps": 8, "max_length": 800, "seed": 1}
VEVO_STYLE = lambda work: {"style_reference": _clip(work, "reference", "A short reference clip.")}  # noqa: E731


TINY = Path(tempfile.gettempdir()) / "amphion-studio-bench-tiny"  # tiny Amphion checkpoints, built once


def _reference(work: Path) -> dict[str, Any]:
    from tests.maskgct_tiny import reference_clip

    clip = reference_clip(work / "reference.wav", 2.0)
    return {"reference": {"path": str(clip), "transcript": "A reference clip for the benchmark."}}


def _maskgct(hub: Path, work: Path) -> None:
    """The MaskGCT-family checkpoints (tests/maskgct_tiny.py); needs AMPHION_ROOT, mirrored with the G2P's
    large files when the checkout lacks them (tests/amphion_checkout.py)."""
    from engines.amphion.runtime import AmphionRuntime
    from tests import maskgct_tiny
    from tests.amphion_checkout import complete_checkout
    from tests.runtimes.tiny import link_into_hub_cache

    if not os.environ.get("AMPHION_ROOT"):
        raise RuntimeError("AMPHION_ROOT is not set")
    root = complete_checkout(Path(os.environ["AMPHION_ROOT"]), TINY / "Amphion")
    os.environ["AMPHION_ROOT"] = str(root)
    if not (TINY / "maskgct" / "metis").is_dir():
        maskgct_tiny.build_all(AmphionRuntime(root), TINY / "maskgct")
    for repo, folder in ((maskgct_tiny.W2V, "w2v-bert-2.0"), (maskgct_tiny.MASKGCT, "MaskGCT"),
                         (maskgct_tiny.METIS, "metis")):
        link_into_hub_cache(hub, repo, TINY / "maskgct" / folder)


def _dualcodec(hub: Path, work: Path) -> None:
    from tests import dualcodec_tiny
    from tests.runtimes.tiny import link_into_hub_cache

    if not (TINY / "dualcodec" / "tts").is_dir():
        dualcodec_tiny.build_all(TINY / "dualcodec")
    for repo, folder in ((dualcodec_tiny.W2V, "w2v"), (dualcodec_tiny.CODEC, "codec"), (dualcodec_tiny.TTS, "tts")):
        link_into_hub_cache(hub, repo, TINY / "dualcodec" / folder)


def _amphion_runtime():  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from engines.amphion.runtime import AmphionRuntime

    if not os.environ.get("AMPHION_ROOT"):
        raise RuntimeError("AMPHION_ROOT is not set")
    return AmphionRuntime.of(SimpleNamespace(amphion_root=os.environ["AMPHION_ROOT"]))


def _lay_out(hub: Path, repo_id: str, folder: Path) -> None:
    from tests.conftest import put_in_hub_cache

    for path in folder.rglob("*"):
        if path.is_file():
            put_in_hub_cache(hub, repo_id, path.relative_to(folder).as_posix(), path)


def _svc(hub: Path, work: Path) -> None:
    """The SVC recipes' tiny checkpoints: released ones into the hub cache, VitsSVC as the user's, Whisper cached."""
    from engines.amphion.svc_recipes import RELEASE_FOLDER
    from tests import svc_fixtures as fx

    runtime = _amphion_runtime()
    fx.tiny_svc_experiment(runtime, work / "released" / RELEASE_FOLDER, "DiffWaveNetSVC", fx.SINGERS,
                           medians=fx.MEDIANS)
    fx.tiny_vocoder(runtime, work / "bigvgan" / "bigvgan_singing")
    fx.fairseq_hubert_checkpoint(work / "contentvec" / "checkpoint_best_legacy_500.pt")
    for repo, folder in (("amphion/singing_voice_conversion", "released"), ("LukeJacob2023/ContentVec", "contentvec"),
                         ("amphion/BigVGAN_singing_bigdata", "bigvgan")):
        _lay_out(hub, repo, work / folder)
    fx.tiny_svc_experiment(runtime, work / "home" / "checkpoints" / "amphion.vits_svc" / "vits", "VitsSVC",
                           fx.SINGERS, medians=fx.MEDIANS)
    os.environ["XDG_CACHE_HOME"] = str(work / "xdg")
    fx.tiny_whisper(work / "xdg" / "whisper" / "medium.pt")


def _noro(hub: Path, work: Path) -> None:
    from tests import svc_fixtures as fx

    fx.tiny_noro(_amphion_runtime(), work / "home" / "checkpoints" / "amphion.noro" / "noro")


def _song(work: Path, seconds: float) -> dict[str, Any]:
    from tests.audio_measures import sung_tone, write

    path = write(work / f"song-{seconds:g}.wav", 0.5 * sung_tone(seconds, 220.0, 24_000, vibrato_cents=40), 24_000)
    return {"source": {"path": str(path), "name": path.name}}


def _speech_and_voice(work: Path, seconds: float) -> dict[str, Any]:
    from tests.audio_measures import sung_tone, write

    voice = write(work / "voice.wav", 0.4 * sung_tone(3.0, 240.0, 16_000), 16_000)
    return {**_song(work, seconds), "reference": {"path": str(voice), "name": voice.name}}


# The classic recipes' tiny checkpoints know only these words (their phone sets and lexicon are built from them).
CLASSIC_TEXT = "Hello world, this is a test."
CLASSIC_TEXTS = (CLASSIC_TEXT, " ".join([CLASSIC_TEXT] * 12))  # the longer one is spoken in two chunks
CLASSIC_WORDS = {"hello": ["HH", "AH0", "L", "OW1"], "world": ["W", "ER1", "L", "D"], "this": ["DH", "IH1", "S"],
                 "is": ["IH1", "Z"], "a": ["AH0"], "test": ["T", "EH1", "S", "T"]}
CLASSIC = TINY / "classic"


def _classic(engine_id: str) -> Callable[[Path, Path], None]:
    """Lays out one classic recipe's tiny checkpoint (tests/amphion_recipes.py) as its hub repository (or, for Jets,
    as the user's checkpoint), with the NLTK data and EnCodec where g2p_en and torch.hub look."""
    def prepare(hub: Path, work: Path) -> None:
        from tests import amphion_recipes as tiny
        from tests.amphion_tiny.vevo import tone

        runtime = _amphion_runtime()
        CLASSIC.mkdir(parents=True, exist_ok=True)
        lexicon = tiny.lexicon(CLASSIC / "lexicon.txt", CLASSIC_WORDS)
        os.environ.update(NLTK_DATA=str(tiny.nltk_data(CLASSIC / "nltk", CLASSIC_WORDS)), TORCH_HOME=str(CLASSIC / "torch"))
        with runtime.session():
            tiny.tiny_encodec(CLASSIC / "torch")
            builds = {
                "amphion.vits": lambda: [("amphion/vits_ljspeech", tiny.tiny_vits(work / "vits", [CLASSIC_TEXT]))],
                "amphion.fastspeech2": lambda: [("amphion/fastspeech2_ljspeech", tiny.tiny_fastspeech2(work / "fs2", lexicon)),
                                                ("amphion/hifigan_ljspeech", tiny.tiny_hifigan(work / "hifigan"))],
                "amphion.naturalspeech2": lambda: [("amphion/naturalspeech2_libritts",
                                                    tiny.tiny_naturalspeech2(work / "ns2", CLASSIC / "ns2.json", lexicon))],
                "amphion.valle_v1": lambda: [("amphion/valle_libritts",
                                              tiny.tiny_valle(work / "valle", [CLASSIC_TEXT, "A test."]))],
                "amphion.jets": lambda: [("", tiny.tiny_jets(work / "home" / "checkpoints" / "amphion.jets" / "tiny",
                                                             lexicon))],
            }
            for repo_id, folder in builds[engine_id]():
                if repo_id:
                    _lay_out(hub, repo_id, folder)
        tone(work / "reference.wav", 1.5, 180.0)
    return prepare


def _classic_reference(transcript: str | None) -> Callable[[Path], dict[str, Any]]:
    return lambda work: {"reference": {"path": str(work / "reference.wav"), "transcript": transcript}}


CASES = [
    Case("builtin.hibari", {"seed": 1}),
    Case("amphion.vevo_timbre", {"flow_matching_steps": 8, "seed": 1}, prepare=_vevo,
         inputs=lambda work: {"source": _clip(work, "source"), "timbre_reference": _clip(work, "reference")}),
    Case("amphion.vevo_voice", VEVO_AR, prepare=_vevo,
         inputs=lambda work: {"source": _clip(work, "source"), "reference": _clip(work, "reference")}),
    Case("amphion.vevo_tts", VEVO_AR, prepare=_vevo, inputs=VEVO_STYLE),
    Case("amphion.vevo15_svc", {"flow_matching_steps": 8, "seed": 1}, prepare=_vevo,
         inputs=lambda work: {"source": _clip(work, "source"), "timbre_reference": _clip(work, "reference")}),
    Case("amphion.vevo15_tts", VEVO_AR, prepare=_vevo, inputs=VEVO_STYLE),
    Case("peer.qwen3_tts", {"mode": "custom", "speaker": "Ryan", "language": "English", "max_new_tokens": 64,
                            "seed": 1}, prepare=_qwen),
    Case("peer.chatterbox", {"max_new_tokens": 100, "flow_steps": 2, "seed": 1}, prepare=_chatterbox),
    Case("amphion.maskgct", {"seed": 1, "config": str(TINY / "maskgct/configs/maskgct.json")}, _reference, _maskgct),
    Case("amphion.metis_tts", {"seed": 1, "config": str(TINY / "maskgct/configs/metis_tts.json")}, _reference,
         _maskgct),
    Case("amphion.dualcodec_valle", {"seed": 1, "config": str(TINY / "dualcodec/configs")}, _reference, _dualcodec),
    Case("amphion.multiple_contents_svc", {"singer": "vocalist_l1_Adele", "steps": 50, "seed": 1}, prepare=_svc,
         clips=_song),
    Case("amphion.vits_svc", {"singer": "vocalist_l1_Adele", "seed": 1}, prepare=_svc, clips=_song),
    Case("amphion.noro", {"steps": 50, "vocoder": "checkpoint", "seed": 1}, prepare=_noro, clips=_speech_and_voice),
    Case("amphion.vits", {"seed": 1}, prepare=_classic("amphion.vits"), texts=CLASSIC_TEXTS),
    Case("amphion.fastspeech2", {}, prepare=_classic("amphion.fastspeech2"), texts=CLASSIC_TEXTS),
    Case("amphion.naturalspeech2", {"inference_steps": 10, "seed": 1, "config": str(CLASSIC / "ns2.json")},
         _classic_reference(None), _classic("amphion.naturalspeech2"), texts=CLASSIC_TEXTS),
    Case("amphion.valle_v1", {"seed": 1}, _classic_reference("A test."), _classic("amphion.valle_v1"),
         texts=CLASSIC_TEXTS),
    Case("amphion.jets", {}, prepare=_classic("amphion.jets"), texts=CLASSIC_TEXTS),
]


SECOND_CHUNK = re.compile(r"(Chunk|Part) 2 of \d+")


def multi_chunk_text(engine: Any, longer: str) -> str:
    """`longer` repeated until the engine speaks it in at least two chunks (three times where the engine splits
    inside its own code, as DualCodec-VALLE does at about 22 s of speech)."""
    from studio.text_chunks import split_text

    limit = next((s.chunk_chars for s in engine.inputs if s.kind == "text" and s.chunk_chars), None)
    if limit is None:
        return " ".join([longer] * 3)
    text = longer
    while len(split_text(text, limit)) < 2:
        text = f"{text} {longer}"
    return text


def measure(case: Case, work: Path) -> dict[str, Any]:
    from huggingface_hub import constants

    from studio.jobs import JobState
    from studio.services import build_services
    from studio.settings import Settings
    from tests.runtimes import tiny

    hub = work / "hub"
    hub.mkdir(parents=True, exist_ok=True)
    case.prepare(hub, work)
    constants.HF_HUB_CACHE = str(hub)
    constants.HF_HUB_OFFLINE = True
    os.environ.update(HF_HUB_CACHE=str(hub), HF_HUB_OFFLINE="1", STUDIO_RUNTIMES_DIR=str(tiny.CACHE))
    services = build_services(Settings.load(home=work / "home"))
    services.start()
    try:
        engine = services.registry.get(case.engine_id)

        sentence, longer = case.texts if case.texts[0] else (SENTENCE, LONGER)

        def generate(text: str, seconds: float) -> tuple[float | None, float, dict[str, Any]]:
            """(seconds to the second chunk's start or None, seconds to the end, the result)."""
            started, second_chunk = time.perf_counter(), None
            inputs = case.clips(work, seconds) if case.clips else {"text": text, **case.inputs(work)}
            job = services.generation.submit(case.engine_id, inputs, case.params)
            while (current := services.jobs.get(job.id)).active:
                if second_chunk is None and SECOND_CHUNK.match(current.stage):
                    second_chunk = time.perf_counter() - started
                time.sleep(0.005)
            if current.state != JobState.succeeded:
                raise RuntimeError(f"{case.engine_id}: {current.error}")
            return second_chunk, time.perf_counter() - started, current.result

        generate(sentence, 3.0)  # loads the model
        (info,) = [m for m in services.models.models() if m.engine_id == case.engine_id]
        first_chunk, whole, result = generate(multi_chunk_text(engine, longer), 21.5)
        return {"load_s": info.load_seconds, "first_chunk_s": first_chunk or whole, "whole": first_chunk is None,
                "rtf": result["rtf"], "memory_mb": info.footprint / 1e6, "declared_mb": engine.memory_mb}
    finally:
        services.stop()
        services.models.unload_all()


def main(selected: list[str]) -> None:
    """Each engine in a process of its own: Amphion engines pin the checkout and its modules for the process."""
    print(f"{'engine':<30} {'load s':>7} {'first chunk s':>22} {'RTF':>7} {'memory MB':>10} {'declared MB':>12} "
          f"{'measured/declared':>18}")
    for case in CASES:
        if selected and case.engine_id not in selected:
            continue
        done = subprocess.run([sys.executable, __file__, "--one", case.engine_id], capture_output=True, text=True)
        rows = [line for line in done.stdout.splitlines() if line.startswith(case.engine_id + " ")]
        print(rows[-1] if rows else f"{case.engine_id:<30} skipped: "
              f"{(done.stderr.strip().splitlines() or ['no output'])[-1][:100]}", flush=True)


def one(engine_id: str) -> None:
    (case,) = [c for c in CASES if c.engine_id == engine_id]
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as work:
        try:
            row = measure(case, Path(work))
        except Exception as exc:  # reported as skipped: one engine failing (no runtime here) must not hide the others
            print(f"{case.engine_id:<30} skipped: {str(exc).splitlines()[0][:100]}")
            return
    ratio = row["memory_mb"] / row["declared_mb"] if row["declared_mb"] else float("nan")
    first_chunk = f"{row['first_chunk_s']:.2f}" + (" (whole)" if row["whole"] else "")
    print(f"{case.engine_id:<30} {row['load_s']:>7.2f} {first_chunk:>22} {row['rtf']:>7.3f} "
          f"{row['memory_mb']:>10.0f} {row['declared_mb']:>12.0f} {ratio:>16.2f}x{' !!' if ratio > 1.5 else ''}")


if __name__ == "__main__":
    one(sys.argv[2]) if sys.argv[1:2] == ["--one"] else main(sys.argv[1:])
