"""Turn an exception into one or two sentences a user can act on. The traceback goes to the log."""
from __future__ import annotations

import errno

from engines.contract import EngineError


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc).lower()
    return "out of memory" in text or "failed to allocate memory" in text


def describe_error(exc: BaseException, log_path: str = "the studio's log") -> str:
    if isinstance(exc, EngineError):
        return str(exc)
    if is_out_of_memory(exc):
        return ("Out of memory. Unload models you are not using on the Models page, or try a shorter input; "
                "the studio already unloaded the other models and tried once more.")
    if isinstance(exc, ModuleNotFoundError):
        return (f"The Python module '{exc.name}' is missing. Install it into the studio's environment "
                f"(pip install {exc.name}) and retry; the Models page shows each engine's exact needs.")
    if isinstance(exc, FileNotFoundError):
        return f"A file the job needs is missing: {exc.filename or exc}. Check that it still exists, then retry."
    if isinstance(exc, PermissionError):
        return f"The studio may not read or write {exc.filename or 'a file it needs'}. Check the folder's permissions."
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "The disk is full. Free some space (old generations, exports, unused models), then retry."
    first_line = (str(exc).strip().splitlines() or [""])[0][:300]
    detail = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
    return f"Unexpected error ({detail}). The full report is in {log_path}. Retry, or check the engine on the Models page."
