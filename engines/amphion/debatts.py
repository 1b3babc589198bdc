"""DebaTTS (Mandarin debate TTS): listed so the studio can say exactly why it cannot run.

Amphion ships DebaTTS as a script, models/tts/debatts/try_inference_small_samples.py, that imports the SoundStorm
acoustic model from `models.tts.soundstorm`, a package the repository does not contain, and loads its checkpoints
from hard-coded local folders; no weights are published (only the Debatts-Data dataset). The engine's readiness
reads the checkout and names the missing import, so a checkout that gains it is reported differently.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..contract import EngineError, InputSlot, Progress, Request, Result, Weights
from ..requirements import Readiness, amphion_root_problem
from .base import check_amphion
from .recipes import RecipeEngine
from .runtime import checkout_root

SCRIPT = "models/tts/debatts/try_inference_small_samples.py"
IMPORT = re.compile(r"^\s*(?:from|import)\s+(models\.tts\.soundstorm[\w.]*)", re.MULTILINE)


def missing_imports(root: Path) -> list[tuple[int, str]]:
    """(line, module) for each models.tts.soundstorm import of the DebaTTS script that the checkout lacks."""
    script = root / SCRIPT
    if not script.is_file():
        return []
    text = script.read_text(encoding="utf-8", errors="replace")
    found = []
    for match in IMPORT.finditer(text):
        module = match.group(1)
        if module in (m for _, m in found):
            continue
        parts = module.split(".")
        if not ((root.joinpath(*parts)).is_dir() or root.joinpath(*parts[:-1], parts[-1] + ".py").is_file()):
            found.append((text.count("\n", 0, match.start()) + 1, module))
    return found


class DebaTTS(RecipeEngine):
    id = "amphion.debatts"
    name = "DebaTTS"
    summary = "Amphion's Mandarin debate-speech model (MaskGCT-style, with an opponent's speech as a second prompt)."
    languages = ("zh",)
    sample_rate = 24_000
    memory_mb = 6_000
    license = "CC-BY-NC-4.0 (data); no published weights"
    inputs = (InputSlot("text", "text", "Text", max_chars=500),
              InputSlot("reference", "audio", "Reference voice", needs_transcript=True,
                        carries=("voice", "style")))
    weights = (Weights("user", label="Your DebaTTS checkpoint"),)

    def check(self) -> Readiness:
        readiness = check_amphion(self)
        if readiness.state == "missing_dependency" and self.runtime_root() is None:
            return readiness
        return Readiness("unavailable", self.why_not())

    def runtime_root(self) -> Path | None:
        root = checkout_root(self.context)
        return None if amphion_root_problem(root) else root

    def why_not(self) -> str:
        root = self.runtime_root()
        assert root is not None
        if not (root / SCRIPT).is_file():
            return f"This Amphion checkout has no DebaTTS inference script ({SCRIPT})."
        missing = missing_imports(root)
        if missing:
            where = "; ".join(f"line {line} imports {module}" for line, module in missing)
            return (f"DebaTTS cannot run from Amphion's code: its inference script {SCRIPT} ({where}) needs the "
                    f"SoundStorm model package models/tts/soundstorm, which is not in the repository, and no "
                    f"DebaTTS weights are published (only the Debatts-Data dataset).")
        return (f"The checkout now has models/tts/soundstorm, but DebaTTS is still only a script ({SCRIPT}) that "
                f"loads checkpoints from fixed local folders, and no weights are published; the studio has no "
                f"adapter for it yet.")

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        raise EngineError(self.check().message)

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        raise EngineError(self.check().message)
