"""The registry: every engine the studio knows, found by walking the engine packages.

Adding an engine means adding a module with an Engine subclass under one of ENGINE_PACKAGES. Listing
imports only those modules, which import nothing heavy (a test holds every engine to that).
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterable, Iterator
from typing import Any

from .contract import Engine

ENGINE_PACKAGES: tuple[str, ...] = ("engines.builtin", "engines.amphion", "engines.peers")


def discover(packages: Iterable[str] = ENGINE_PACKAGES) -> list[type[Engine]]:
    """Engine classes defined in the modules of `packages`, in a stable order."""
    found: dict[str, type[Engine]] = {}
    for package_name in packages:
        package = importlib.import_module(package_name)
        modules = [package] + [importlib.import_module(info.name)
                               for info in pkgutil.walk_packages(package.__path__, package_name + ".")]
        for module in modules:
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, Engine) and cls.id and cls.__module__ == module.__name__:
                    if cls.id in found and found[cls.id] is not cls:
                        raise ValueError(f"two engines share the id {cls.id!r}")
                    found[cls.id] = cls
    return sorted(found.values(), key=lambda c: c.id)


class Registry:
    """Engine instances by id. `context` is handed to every engine (settings: device, Amphion checkout, ...)."""

    def __init__(self, classes: Iterable[type[Engine]] | None = None, context: Any = None,
                 extra_packages: Iterable[str] = ()) -> None:
        self.context = context
        self._engines: dict[str, Engine] = {}
        for cls in discover((*ENGINE_PACKAGES, *extra_packages)) if classes is None else classes:
            self.add(cls)

    def add(self, cls: type[Engine]) -> Engine:
        if cls.id in self._engines:
            raise ValueError(f"engine {cls.id!r} is already registered")
        engine = cls(self.context)
        self._engines[cls.id] = engine
        return engine

    def get(self, engine_id: str) -> Engine:
        try:
            return self._engines[engine_id]
        except KeyError:
            raise KeyError(f"No engine {engine_id!r}. Known engines: {', '.join(self._engines)}.") from None

    def __contains__(self, engine_id: object) -> bool:
        return engine_id in self._engines

    def __iter__(self) -> Iterator[Engine]:
        return iter(self._engines.values())

    def __len__(self) -> int:
        return len(self._engines)

    def for_task(self, task: str) -> list[Engine]:
        return [e for e in self._engines.values() if e.task == task]
