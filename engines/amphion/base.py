"""The base class of Amphion adapters: declarations in, a precise readiness out.

`AmphionEngine.check()` reports the first thing missing, in the order a user fixes them: the checkout, an
installed package hiding one of Amphion's, Python modules (with pip names), programs (espeak-ng), version
pins, a compiled extension not built in this checkout (with the exact command), the user's own checkpoint for
recipe-only models, and finally weights to download (with the size). See runtime.py for the developer note.
"""
from __future__ import annotations

import importlib.machinery
import importlib.metadata
import importlib.util
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..contract import Engine
from ..requirements import READY, PythonModule, Readiness, Requirements, amphion_root_problem, check_requirements
from . import deps, traps
from .runtime import AmphionRuntime, checkout_root

CLONE_HINTS = ("git clone https://github.com/open-mmlab/Amphion.git",
               "then set AMPHION_ROOT=/path/to/Amphion (environment or config file) and restart the studio")
# Large files Amphion's text-to-phoneme code (models/tts/maskgct/g2p) opens at import: ordinary git blobs, which a
# partial copy of the repository (an export, an interrupted clone) can lack
G2P_FILES = ("models/tts/maskgct/g2p/sources/g2p_chinese_model/poly_bert_model.onnx",
             "models/tts/maskgct/g2p/sources/chinese_lexicon.txt")


@dataclass(frozen=True)
class Extension:
    """A compiled part of the checkout that Amphion builds in place (its run.sh scripts do it)."""

    name: str
    folder: str  # relative to the checkout
    module: str  # the compiled module, relative to `folder`, without suffix
    build: tuple[str, ...]  # shell steps run in `folder`; {python} is the studio's interpreter
    needs: tuple[tuple[str, str], ...] = ()  # (import name, pip name) the build needs

    def built(self, root: Path) -> bool:
        base = root / self.folder / self.module
        return any(base.with_name(base.name + suffix).is_file() for suffix in importlib.machinery.EXTENSION_SUFFIXES)

    def command(self, root: Path) -> str:
        steps = [s.format(python=shlex.quote(sys.executable)) for s in self.build]
        return f"cd {shlex.quote(str(root / self.folder))} && " + " && ".join(steps)


EXTENSIONS: dict[str, Extension] = {
    "monotonic_align": Extension(
        "monotonic_align", "modules/monotonic_align", "monotonic_align/core",
        ("mkdir -p monotonic_align", "{python} setup.py build_ext --inplace"),
        (("Cython", "Cython"), ("numpy", "numpy"))),
}


def user_checkpoint_dir(context: Any, engine_id: str) -> Path | None:
    home = getattr(context, "home", None)
    return Path(home) / "checkpoints" / engine_id if home else None


def user_checkpoints(context: Any, engine_id: str) -> list[Path]:
    """The user's checkpoints for an engine (folders or files under <STUDIO_HOME>/checkpoints/<id>/), newest first."""
    folder = user_checkpoint_dir(context, engine_id)
    if folder is None or not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if not p.name.startswith(".")]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


EXTRA_HINT = 'or all that Amphion\'s models import at once, in the studio\'s folder: pip install -e ".[amphion]"'


def amphion_extra() -> set[str]:
    """The pip names (canonical) the studio's [amphion] extra installs, from its installed metadata."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    try:
        declared = importlib.metadata.requires("amphion-studio") or []
    except importlib.metadata.PackageNotFoundError:
        return set()
    names = set()
    for line in declared:
        requirement = Requirement(line)
        if requirement.marker is not None and requirement.marker.evaluate({"extra": "amphion"}) \
                and not requirement.marker.evaluate({"extra": ""}):
            names.add(canonicalize_name(requirement.name))
    return names


def missing_from_extra(modules: tuple[PythonModule, ...] = deps.BASE) -> list[str]:
    """The pip names of `modules` (by default what the Amphion runtime itself imports) that the [amphion] extra
    installs and that are not installed here."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    extra = amphion_extra()
    return [m.pip for m in modules if not m.present() and canonicalize_name(Requirement(m.pip).name) in extra]


def check_amphion(engine: Engine, *, extensions: tuple[str, ...] = (), needs_transformers_4: bool = False,
                  recipe_only: bool = False) -> Readiness:
    """The readiness of an Amphion engine (see the module docstring for the order)."""
    root = checkout_root(engine.context)
    problem = amphion_root_problem(root)
    if problem or root is None:
        return Readiness("missing_dependency", problem or "No Amphion checkout is configured.", CLONE_HINTS)
    hidden = AmphionRuntime(root).hidden_packages()
    if hidden:
        return Readiness("missing_dependency", hidden[0])
    declared = engine.requirements  # the checkout is settled above (also when it comes from AMPHION_ROOT alone)
    readiness = check_requirements(Requirements(python=declared.python, binaries=declared.binaries,
                                                cuda=declared.cuda), engine.context)
    if not readiness.ready:
        if missing_from_extra(declared.python):
            return Readiness(readiness.state, readiness.message, readiness.hints + (EXTRA_HINT,))
        return readiness
    if needs_transformers_4:
        for message, command in traps.pin_problems():
            return Readiness("missing_dependency", message, (command,))
    for name in extensions:
        readiness = check_extension(EXTENSIONS[name], root)
        if not readiness.ready:
            return readiness
    if recipe_only and not user_checkpoints(engine.context, engine.id):
        folder = user_checkpoint_dir(engine.context, engine.id)
        return Readiness("needs_checkpoint", f"{engine.name} has no public weights: train a checkpoint on the "
                                             f"Training page, or put one (its folder, with args.json) in {folder}.")
    from engines.weights import weights_readiness

    return weights_readiness(engine, engine.weights_for(engine.defaults()))


def check_extension(extension: Extension, root: Path) -> Readiness:
    if extension.built(root):
        return READY
    missing = [pip for module, pip in extension.needs if importlib.util.find_spec(module) is None]
    hints = ((f"pip install {' '.join(missing)}",) if missing else ()) + (extension.command(root),)
    return Readiness("missing_dependency", f"Amphion's compiled extension {extension.name} is not built in "
                                           f"{root}; build it once:", hints)


def g2p_files_missing(engine: Engine) -> Readiness | None:
    """What to do when the configured checkout lacks G2P_FILES; None when it has them (or when the checkout itself
    is the problem, which check_amphion reports)."""
    root = checkout_root(engine.context)
    if root is None or amphion_root_problem(root):
        return None
    missing = [name for name in G2P_FILES if not (root / name).is_file()]
    if not missing:
        return None
    if (root / ".git").exists():  # a clone whose files went missing: git restores them
        hints = (f"cd {root} && git checkout -- {' '.join(missing)}", f"or clone it again: {CLONE_HINTS[0]}")
    else:  # an export or a copy: a clone has them
        hints = (CLONE_HINTS[0], "then point AMPHION_ROOT at the new clone, or copy the missing files into this one")
    return Readiness("missing_dependency",
                     f"Your Amphion checkout {root} lacks {' and '.join(missing)}: large files of the text-to-phoneme "
                     f"code that {engine.name} imports. A full git clone has them.", hints)


class AmphionEngine(Engine):
    """An adapter of an Amphion model; subclasses declare, `check()` turns it into readiness."""

    family = "Amphion"
    requirements: ClassVar[Requirements] = Requirements(amphion=True)
    extensions: ClassVar[tuple[str, ...]] = ()  # names in EXTENSIONS the model imports
    needs_transformers_4: ClassVar[bool] = False  # Llama-based models: transformers >= 4.41, < 5
    recipe_only: ClassVar[bool] = False  # no public weights: the user's checkpoint

    def check(self) -> Readiness:
        return check_amphion(self, extensions=self.extensions, needs_transformers_4=self.needs_transformers_4,
                             recipe_only=self.recipe_only)

    @property
    def runtime(self) -> AmphionRuntime:
        return AmphionRuntime.of(self.context)

    def user_checkpoints(self) -> list[Path]:
        return user_checkpoints(self.context, self.id)


def doctor_lines(context: Any) -> list[str]:
    """What `amphion-studio doctor` shows about Amphion: checkout, extensions, environment fixes, pins."""
    root = checkout_root(context)
    problem = amphion_root_problem(root)
    lines = [f"Amphion checkout     {problem or root}"]
    if root is not None and not problem:
        for hidden in AmphionRuntime(root).hidden_packages():
            lines.append(f"  !! {hidden}")
        for extension in EXTENSIONS.values():
            built = extension.built(root)
            lines.append(f"extension            {extension.name}: " +
                         ("built" if built else f"not built; build it with: {extension.command(root)}"))
    for fix, state in traps.status():
        note = " (stand-in)" if fix.stand_in else ""
        lines.append(f"fix {state:<16} {fix.name}{note}: {fix.remedy}" if state != "not needed"
                     else f"fix {state:<16} {fix.name}")
    for message, command in traps.pin_problems():
        lines.append(f"  !! {message} Fix: {command}")
    return lines
