"""A local stand-in for the Hugging Face hub: the endpoints and headers huggingface_hub 0.36 reads.

- `GET /api/models/{repo}/revision/{rev}` (HfApi.model_info, with `?blobs=True` for sizes): id, sha, siblings.
- `HEAD /{repo}/resolve/{rev}/{file}` (get_hf_file_metadata): X-Repo-Commit, ETag (X-Linked-Etag for large
  files, as the hub sends for LFS), Content-Length / X-Linked-Size.
- `GET /{repo}/resolve/{rev}/{file}` with `Range: bytes=N-` answered by 206 and Content-Range.
- `GET /files/{name}`: plain files (torch.hub style downloads).

`bytes_per_second` slows transfers down so a test can cancel mid-file; `hang` accepts connections and never
answers, as a network without a route to the hub does.
"""
from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

LFS_THRESHOLD = 10_000  # bytes: larger files get X-Linked-Etag like LFS files on the hub


Content = bytes | Path  # a file's bytes, or a path to read them from (checkpoints of a gigabyte stay on disk)


@dataclass
class FakeHub:
    repos: dict[str, dict[str, Content]] = field(default_factory=dict)
    files: dict[str, Content] = field(default_factory=dict)
    bytes_per_second: float | None = None
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Range header)
    url: str = ""

    def add_repo(self, repo_id: str, files: dict[str, Content]) -> str:
        self.repos[repo_id] = dict(files)
        return self.commit(repo_id)

    def add_folder(self, repo_id: str, folder: Path) -> str:
        """A repository whose files are those under `folder` (relative names, as the hub lists them)."""
        return self.add_repo(repo_id, {p.relative_to(folder).as_posix(): p
                                       for p in sorted(folder.rglob("*")) if p.is_file()})

    def commit(self, repo_id: str) -> str:
        digest = hashlib.sha1(repo_id.encode())
        for name, data in sorted(self.repos[repo_id].items()):
            digest.update(name.encode() + _etag(data).encode())
        return digest.hexdigest()


def _size(data: Content) -> int:
    return data.stat().st_size if isinstance(data, Path) else len(data)


_hashes: dict[tuple[str, int, float], str] = {}


def _etag(data: Content) -> str:
    """sha256 for large files (as LFS), git-style sha1 for small ones; files on disk are hashed once."""
    if isinstance(data, Path):
        stat = data.stat()
        key = (str(data), stat.st_size, stat.st_mtime)
        if key not in _hashes:
            digest = hashlib.sha256() if stat.st_size > LFS_THRESHOLD else hashlib.sha1()
            with data.open("rb") as source:
                for block in iter(lambda: source.read(1 << 22), b""):
                    digest.update(block)
            _hashes[key] = digest.hexdigest()
        return _hashes[key]
    return hashlib.sha256(data).hexdigest() if len(data) > LFS_THRESHOLD else hashlib.sha1(data).hexdigest()


def _chunks(data: Content, start: int, step: int) -> Iterator[bytes]:
    if isinstance(data, Path):
        with data.open("rb") as source:
            source.seek(start)
            yield from iter(lambda: source.read(step), b"")
    else:
        view = memoryview(data)
        for offset in range(start, len(view), step):
            yield bytes(view[offset:offset + step])


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            path = unquote(urlparse(self.path).path)
            hub.requests.append((self.command, path, self.headers.get("Range")))
            info = re.fullmatch(r"/api/models/(.+?)/revision/([^/]+)", path)
            if info:
                return self._model_info(info.group(1))
            resolve = re.fullmatch(r"/(.+?/[^/]+)/resolve/([^/]+)/(.+)", path)
            if resolve and resolve.group(1) in hub.repos:
                repo, name = resolve.group(1), resolve.group(3)
                data = hub.repos[repo].get(name)
                if data is None:
                    return self._error(404, "EntryNotFound")
                return self._file(data, body, {"X-Repo-Commit": hub.commit(repo)})
            plain = re.fullmatch(r"/files/(.+)", path)
            if plain and plain.group(1) in hub.files:
                return self._file(hub.files[plain.group(1)], body, {})
            return self._error(404, "RepoNotFound")

        def _model_info(self, repo: str) -> None:
            if repo not in hub.repos:
                return self._error(404, "RepoNotFound")
            siblings = [{"rfilename": name, "size": _size(data), "blobId": _etag(data)}
                        for name, data in sorted(hub.repos[repo].items())]
            payload = json.dumps({"id": repo, "modelId": repo, "sha": hub.commit(repo), "private": False,
                                  "siblings": siblings}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _file(self, data: Content, body: bool, extra: dict[str, str]) -> None:
            start, size = 0, _size(data)
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if match and body:
                start = int(match.group(1))
            self.send_response(206 if start else 200)
            etag = _etag(data)
            headers = {**extra, "ETag": f'"{etag}"', "Accept-Ranges": "bytes", "Content-Length": str(size - start)}
            if size > LFS_THRESHOLD:
                headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(size)})
            if start:
                headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if not body:
                return
            step = 64 * 1024
            try:
                for chunk in _chunks(data, start, step):
                    self.wfile.write(chunk)
                    if hub.bytes_per_second:
                        time.sleep(step / hub.bytes_per_second)
            except (BrokenPipeError, ConnectionResetError):  # the client cancelled
                pass

        def _error(self, code: int, kind: str) -> None:
            payload = json.dumps({"error": kind}).encode()
            self.send_response(code)
            self.send_header("X-Error-Code", kind)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def serve(hub: FakeHub) -> Iterator[FakeHub]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-hub", daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_endpoint() -> Iterator[str]:
    """An address that accepts connections and never answers: a hub behind a dead network."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
