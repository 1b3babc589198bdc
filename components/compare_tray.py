"""The clips a browser has set aside to compare (kept in app.storage.user, so every tab and page sees them)."""
from __future__ import annotations

from nicegui import app, ui

from studio.history.compare import MAX_CLIPS

STORAGE_KEY = "compare"


def compared() -> list[str]:
    """Clip keys ("generation:<id>", "upload:<id>") in the order they were added."""
    return list(app.storage.user.get(STORAGE_KEY, []))


def set_compared(keys: list[str]) -> None:
    app.storage.user[STORAGE_KEY] = list(dict.fromkeys(keys))[-MAX_CLIPS:]


def add_to_comparison(*keys: str) -> None:
    """Add clips (the oldest drop out past MAX_CLIPS) and say so, with where to go next."""
    before = compared()
    set_compared(before + [k for k in keys if k not in before])
    count = len(compared())
    hint = "open Compare to listen side by side" if count >= 2 else "add one more to compare"
    ui.notify(f"In the comparison: {count} clip{'s' if count != 1 else ''}; {hint}.", type="info")


def compare_button(key: str) -> ui.button:
    return ui.button("Compare", icon="compare_arrows", on_click=lambda: add_to_comparison(key)) \
        .props("outline no-caps").mark(f"compare-{key.partition(':')[2]}")
