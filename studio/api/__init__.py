"""The REST API under /api (OpenAPI at /docs): what the pages can do, for scripts.

Each module listed in ROUTER_MODULES has `build_router(services) -> APIRouter`.
"""
from __future__ import annotations

import importlib

from fastapi import APIRouter

from ..services import Services

ROUTER_MODULES: tuple[str, ...] = (
    "studio.api.core",
    "studio.api.uploads",
    "studio.api.library",
    "studio.api.history",
    "studio.api.openai",
    "studio.api.conversion",
    "studio.api.evaluation",
    "studio.api.weights",
    "studio.api.projects",
    "studio.api.checkpoints",
)


def build_routers(services: Services) -> list[APIRouter]:
    return [importlib.import_module(name).build_router(services) for name in ROUTER_MODULES]
