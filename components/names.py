"""Names to show for what the history refers to by id: engines, and voice profiles (renamed or deleted ones too)."""
from __future__ import annotations

from collections.abc import Iterable

from studio.services import Services


def engine_name(services: Services, engine_id: str | None) -> str:
    registry = services.registry
    return registry.get(engine_id).name if engine_id and engine_id in registry else (engine_id or "")


def profile_names(services: Services, ids: Iterable[str | None]) -> dict[str, str]:
    """Each profile's current name in the library; a deleted profile keeps its id."""
    wanted = sorted({i for i in ids if i})
    known = {p.id: p.name for p in services.library.profiles(wanted)} if wanted else {}
    return {i: known.get(i, i) for i in wanted}
