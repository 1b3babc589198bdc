"""Whether an engine can run a request here: its own readiness, then the weights the chosen params need.

Weights that are missing are fine while the studio is online (the job downloads them, with progress); offline a
job could only fail, so the request is refused before it is queued, with the exact command that fetches them.
"""
from __future__ import annotations

from typing import Any

from engines.contract import Engine, EngineError, Request
from engines.requirements import READY, Readiness, format_bytes
from engines.weights import state
from engines.weights.cache import hub_offline


class EngineNotReady(EngineError):
    def __init__(self, engine: Engine, readiness: Readiness) -> None:
        hints = " ".join(readiness.hints)
        super().__init__(f"{engine.name} is not ready: {readiness.message}" + (f" To fix: {hints}" if hints else ""))
        self.readiness = readiness


def weights_readiness_for(engine: Engine, params: dict[str, Any]) -> Readiness:
    """Ready when the weights a run with `params` needs are here; needs download online; unavailable offline."""
    missing = [s for s in map(state, engine.weights_for(params)) if s.weights.downloadable and not s.complete]
    if not missing:
        return READY
    names = ", ".join(s.weights.title for s in missing)
    size = format_bytes(sum(s.missing_bytes for s in missing))
    if not hub_offline():
        return Readiness("needs_download", f"{engine.name} needs {names} ({size}) downloaded: the job fetches it.",
                         (download_command(engine, missing),), sum(s.missing_bytes for s in missing))
    return Readiness("unavailable", f"{engine.name} needs {names} ({size}), which is not on this machine, and the "
                                    "studio is offline (HF_HUB_OFFLINE is set), so a job cannot download it.",
                     (f"with a network connection, run `{download_command(engine, missing)}`", "(or press Download on "
                      "the Models page), then try again."))


def require_runnable(engine: Engine, readiness: Readiness) -> None:
    """EngineNotReady, saying what to do, unless a job can run (or download what it needs)."""
    if not readiness.runnable:
        raise EngineNotReady(engine, readiness)


def runnable_request(engine: Engine, inputs: dict[str, Any], params: dict[str, Any]) -> Request:
    """`engine.validate(inputs, params)` when a job can run it here; EngineNotReady or InvalidRequest otherwise."""
    require_runnable(engine, engine.check())
    request = engine.validate(inputs, params)
    require_runnable(engine, weights_readiness_for(engine, request.params))
    return request


def download_command(engine: Engine, missing: list[Any]) -> str:
    """`amphion-studio download ENGINE -p name=value ...` for the param values that pick the missing weights."""
    picks = dict.fromkeys(f"-p {name}={value}" for s in missing for name, value in s.weights.when)
    return " ".join(["amphion-studio download", engine.id, *picks])
