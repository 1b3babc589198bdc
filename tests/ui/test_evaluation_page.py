"""The evaluation page with NiceGUI's User fixture: uploads checked on the server, a pair scored by a job, a set
shown as tables and charts, and clear messages for what cannot be evaluated."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

from nicegui import ui
from nicegui.testing import User

from tests.evaluation_fixtures import speech, write  # noqa: F401

RESULT_WAIT = 300  # retries of 0.1 s


async def upload(user: User, marker: str, name: str, data: bytes) -> None:
    (element,) = user.find(marker=marker).elements
    await element.handle_uploads([ui.upload.SmallFileUpload(name, "application/octet-stream", data)])


def choose_metrics(user: User, keys: list[str]) -> None:
    (select,) = user.find(marker="evaluation-metrics").elements
    select.set_value(keys)


async def test_a_pair_is_uploaded_scored_and_shown(user: User, speech, tmp_path: Path) -> None:
    await user.open("/evaluation")
    await user.should_see("Analyse")
    await upload(user, "reference-upload", "voice.wav", write(tmp_path / "r.wav", *speech["a"]).read_bytes())
    await upload(user, "generated-upload", "copy.wav", write(tmp_path / "g.wav", *speech["a"]).read_bytes())
    await user.should_see("voice.wav · 5.4 s")
    await user.should_see("copy.wav · 5.4 s")
    choose_metrics(user, ["mcd", "pesq_wb", "speaker_similarity"])
    user.find(marker="evaluate").click()
    await user.should_see(marker="evaluation-results", retries=RESULT_WAIT)
    (summary,) = user.find(marker="evaluation-summary").elements
    rows = {row["key"]: row for row in summary.rows}
    assert rows["mcd"]["metric"] == "Mel-cepstral distortion ↓" and rows["mcd"]["value"] == "0.0 dB"
    assert rows["pesq_wb"]["metric"] == "PESQ wide-band ↑" and rows["pesq_wb"]["value"].startswith("4.6")
    (csv_button,) = user.find(marker="export-csv").elements
    assert csv_button.props["href"].endswith("/export?format=csv")
    await user.should_see("succeeded")


async def test_two_zips_are_a_set_with_an_item_table_charts_and_messages(user: User, speech, tmp_path: Path) -> None:
    clip = write(tmp_path / "x.wav", *speech["a"]).read_bytes()
    zips = {}
    for role, names in (("reference", ("a", "b")), ("generated", ("a", "b", "extra"))):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            for name in names:
                zf.writestr(f"{name}.wav", clip)
        zips[role] = buffer.getvalue()
    await user.open("/evaluation")
    user.find(marker="evaluation-mode").elements.pop().set_value("set")
    await upload(user, "reference-zip", "refs.zip", zips["reference"])
    await upload(user, "generated-zip", "gens.zip", zips["generated"])
    await user.should_see("refs.zip · 2 clips")
    await user.should_see("gens.zip · 3 clips")
    choose_metrics(user, ["mcd", "loudness_lufs"])
    user.find(marker="evaluate").click()
    await user.should_see(marker="evaluation-items", retries=RESULT_WAIT)
    (table,) = user.find(marker="evaluation-items").elements
    assert [row["name"] for row in table.rows] == ["a", "b", "extra"]
    assert table.rows[0]["mcd"] == 0.0 and table.rows[2]["mcd"] is None
    assert all(column.get("sortable") for column in table.columns)
    await user.should_see(marker="chart-mcd")
    await user.should_see("No reference named “extra”")


async def test_uploads_and_requests_that_cannot_work_say_why(user: User, speech, tmp_path: Path) -> None:
    await user.open("/evaluation")
    user.find(marker="evaluate").click()
    await user.should_see("Upload the generated audio first.")
    await upload(user, "generated-upload", "notes.txt", b"not audio")
    await user.should_see("notes.txt: the studio takes audio")
    await upload(user, "generated-upload", "clip.wav", write(tmp_path / "g.wav", *speech["a"]).read_bytes())
    await user.should_see("clip.wav · 5.4 s")
    user.find(marker="evaluate").click()
    await user.should_see("Upload the reference as well")
    user.find(marker="evaluation-mode").elements.pop().set_value("clip")
    choose_metrics(user, ["mcd"])
    user.find(marker="evaluate").click()
    await user.should_see("mcd cannot apply here")
    user.find(marker="evaluation-mode").elements.pop().set_value("set")
    await upload(user, "generated-zip", "clips.tar", b"not a zip")
    await user.should_see("clips.tar: upload a .zip of audio files for a set.")
    user.find(marker="evaluate").click()
    await user.should_see("Upload both sets as zips first")


async def test_recent_generations_are_scored_against_their_own_text(user: User) -> None:
    await user.open("/speech")
    user.find(marker="speech-text").type("Generations can be scored later.")
    user.find(marker="generate").click()
    await user.should_see(marker="result-card", retries=RESULT_WAIT)
    await user.open("/evaluation")
    user.find(marker="evaluation-mode").elements.pop().set_value("jobs")
    (picker,) = user.find(marker="evaluation-generations").elements
    assert len(picker.options) == 1
    picker.set_value(list(picker.options))
    choose_metrics(user, ["wer", "distillmos"])
    user.find(marker="evaluate").click()
    await user.should_see(marker="evaluation-results", retries=RESULT_WAIT)
    (summary,) = user.find(marker="evaluation-summary").elements
    assert {row["key"]: row["value"] for row in summary.rows}["wer"] == "0.000"
