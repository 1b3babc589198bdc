"""Starting the real studio as a subprocess, as systemd or a user would, for the end-to-end tests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_studio(home: Path, code: Path = REPO, **environment: str) -> tuple[subprocess.Popen, str]:
    """`python -m studio serve` from `code` (the checkout, or where a wheel was installed) on a free local port
    with its data in `home`; returns it and its URL once /api/health answers. Its output goes to home/server.log."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NICEGUI_", "STUDIO_"))}
    env.update(STUDIO_HOME=str(home), STUDIO_PORT=str(port), STUDIO_HOST="127.0.0.1", HF_HUB_OFFLINE="1",
               PYTHONPATH=str(code), **environment)
    home.mkdir(parents=True, exist_ok=True)
    log = home / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "studio", "serve"], cwd=home, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/api/health", timeout=2)
            return process, url
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the studio did not start:\n" + log.read_text()) from None
            time.sleep(0.1)
