"""The REST API under /api (OpenAPI at /docs): what the pages can do, for scripts.

Each module listed in ROUTER_MODULES has `build_router(services) -> APIRouter`; `mount` adds them to an app with
the handler that answers a body or query FastAPI cannot parse with 400 and a sentence (studio/api/errors.py).
"""
from __future__ import annotations

import importlib

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError

from ..services import Services
from .errors import api_validation_error

ROUTER_MODULES: tuple[str, ...] = (
    "studio.api.core",
    "studio.api.uploads",
    "studio.api.library",
    "studio.api.history",
    "studio.api.compare",
    "studio.api.openai",
    "studio.api.conversion",
    "studio.api.evaluation",
    "studio.api.weights",
    "studio.api.projects",
    "studio.api.checkpoints",
)


def build_routers(services: Services) -> list[APIRouter]:
    return [importlib.import_module(name).build_router(services) for name in ROUTER_MODULES]


def mount(app: FastAPI, services: Services) -> None:
    """Every router of the API, and its validation-error handler, on `app`."""
    for router in build_routers(services):
        app.include_router(router)
    app.add_exception_handler(RequestValidationError, api_validation_error)
