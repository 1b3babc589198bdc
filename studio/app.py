"""The web app's composition root: the only module of `studio` that imports NiceGUI.

`run(settings)` builds the services, mounts media, assets and the REST API, and starts NiceGUI.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from nicegui import app, run as nicegui_run, ui

from .api import mount
from .services import Services, build_services
from .settings import Settings
from .storage import ASSETS

log = logging.getLogger(__name__)


def create(settings: Settings) -> tuple[Services, Callable[[], None]]:
    """Wire the services into NiceGUI's app (routes, media, startup, shutdown); the services and the page root."""
    from pages.shell import root

    services = build_services(settings)
    app.on_startup(services.start)
    app.on_shutdown(services.stop)
    app.add_media_files("/media/generations", services.paths.generations)
    app.add_media_files("/media/uploads", services.paths.uploads)
    app.add_media_files("/media/library", services.paths.library)
    app.add_static_files("/assets", ASSETS)
    own_lifespan = app.router.lifespan_context
    mount(app, services)
    # Our routers have no lifespan; FastAPI still wraps the app's lifespan once per include, and NiceGUI's test
    # reset never unwraps it, so every test that builds the app would nest it deeper until recursion fails.
    app.router.lifespan_context = own_lifespan
    return services, root(services)


def run(settings: Settings | None = None) -> None:
    settings = settings or Settings.load()
    services, page_root = create(settings)
    nicegui_run.process_pool_start_method = "spawn"
    ssl = {"ssl_certfile": str(settings.ssl_certfile), "ssl_keyfile": str(settings.ssl_keyfile)} \
        if settings.ssl_certfile else {}
    scheme = "https" if ssl else "http"
    log.info("Amphion Studio on %s://%s:%d (data in %s)", scheme, settings.host, settings.port, settings.home)
    ui.run(
        page_root,
        host=settings.host, port=settings.port, title="Amphion Studio", favicon=ASSETS / "favicon.svg",
        dark=None, language="en-US", reload=False, show=False, storage_secret=services.paths.storage_secret(),
        reconnect_timeout=25, message_history_length=200, fastapi_docs=True, show_welcome_message=False,
        uvicorn_logging_level="warning", timeout_graceful_shutdown=10, **ssl,
    )
