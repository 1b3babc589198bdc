"""The voice prompt cache: what engines compute from reference audio, kept in memory and on disk.

Zero-shot engines turn a reference clip (and its transcript) into a prompt before they generate: a speaker
embedding, semantic tokens, codec codes. That stage costs the same every time the same voice is used, so the
studio keeps its result. An engine uses it in one line inside `run`:

    prompt = request.prompts.get_or_compute([reference], lambda: self._encode(model, reference))

`reference` is the slot's AudioInput: its audio is keyed by content (a hash of the normalised file) and its
transcript by value, so editing either misses the cache. Add any other value the prompt depends on (a
param, a sub-model) to the list. The engine's load key (id + weight-selecting params) and its
`prompt_version` are part of every key; bump `prompt_version` when the computation changes.

Entries live in memory (a small LRU) and as pickles under STUDIO_HOME/prompt_cache/ with a row each in the
database, so they survive a restart; the disk is bounded with least-recently-used eviction. The library
calls `invalidate(audio_hash=...)` when a sample is deleted or its transcript changes.
"""
from __future__ import annotations

import hashlib
import json
import logging
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine as SqlEngine
from sqlmodel import Field, SQLModel

from engines.contract import AudioInput, Engine

from .storage import atomic_write

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_MAX_BYTES = 2 * 1024**3
MEMORY_ITEMS = 32


class PromptEntry(SQLModel, table=True):
    __tablename__ = "prompt_cache"

    key: str = Field(primary_key=True)
    engine_id: str = Field(index=True)
    audio_hashes: str = ""  # ",h1,h2," so one hash can be found with LIKE
    size_bytes: int = 0
    created_at: float = 0.0
    last_used: float = Field(default=0.0, index=True)


ENTRIES = PromptEntry.__table__


def file_hash(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    seconds_computing: float = 0.0


class PromptCache:
    def __init__(self, db: SqlEngine, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES,
                 memory_items: int = MEMORY_ITEMS) -> None:
        self._db = db
        self.folder = folder
        self.max_bytes = max_bytes
        self._memory: OrderedDict[str, Any] = OrderedDict()
        self._memory_items = memory_items
        self._hashes: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> content hash
        self._lock = threading.RLock()

    # -- what engines reach through request.prompts --------------------------------------------------------

    def for_engine(self, engine: Engine, params: dict[str, Any]) -> BoundPromptCache:
        return BoundPromptCache(self, f"{engine.load_key(params)}@{engine.prompt_version}", engine.id)

    def get_or_compute(self, scope: str, engine_id: str, key_parts: Sequence[Any], compute: Callable[[], T],
                       stats: CacheStats | None = None) -> T:
        key, audio_hashes = self.key(scope, key_parts)
        stats = stats if stats is not None else CacheStats()
        found, value = self._lookup(key)
        if found:
            stats.hits += 1
            return value
        started = time.perf_counter()
        value = compute()
        stats.seconds_computing += time.perf_counter() - started
        stats.misses += 1
        self._store(key, engine_id, audio_hashes, value)
        return value

    def key(self, scope: str, key_parts: Sequence[Any]) -> tuple[str, list[str]]:
        """The entry's key and the content hashes of the audio it depends on."""
        described, audio_hashes = [], []
        for part in key_parts:
            if isinstance(part, AudioInput):
                audio = self.audio_hash(part.path)
                audio_hashes.append(audio)
                described.append({"audio": audio, "transcript": part.transcript or ""})
            elif isinstance(part, Path):
                audio = self.audio_hash(part)
                audio_hashes.append(audio)
                described.append({"file": audio})
            else:
                described.append(part)
        text = json.dumps([scope, described], sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()[:40], audio_hashes

    def audio_hash(self, path: str | Path) -> str:
        stat = Path(path).stat()
        memo = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if memo not in self._hashes:
                self._hashes[memo] = file_hash(path)
            return self._hashes[memo]

    # -- memory, then disk ---------------------------------------------------------------------------------

    def _lookup(self, key: str) -> tuple[bool, Any]:
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                self._touch(key)
                return True, self._memory[key]
        path = self._path(key)
        if not path.is_file():
            return False, None
        try:
            with open(path, "rb") as f:
                value = pickle.load(f)
        except Exception:  # a damaged or foreign file is a miss, and goes
            log.warning("prompt cache entry %s could not be read; recomputing", key, exc_info=True)
            self._forget([key])
            return False, None
        self._remember(key, value)
        self._touch(key)
        return True, value

    def _store(self, key: str, engine_id: str, audio_hashes: list[str], value: Any) -> None:
        self._remember(key, value)
        try:
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # something that cannot be pickled still helps in memory
            log.warning("prompt of %s cannot be kept on disk (not picklable)", engine_id)
            return
        atomic_write(self._path(key), lambda tmp: tmp.write_bytes(payload))
        now = time.time()
        with self._db.begin() as connection:
            connection.execute(delete(ENTRIES).where(ENTRIES.c.key == key))
            connection.execute(insert(ENTRIES).values(
                key=key, engine_id=engine_id, audio_hashes="," + ",".join(audio_hashes) + ",",
                size_bytes=len(payload), created_at=now, last_used=now))
        self._evict()

    def _remember(self, key: str, value: Any) -> None:
        with self._lock:
            self._memory[key] = value
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)

    def _touch(self, key: str) -> None:
        with self._db.begin() as connection:
            connection.execute(update(ENTRIES).where(ENTRIES.c.key == key).values(last_used=time.time()))

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.pkl"

    def _evict(self) -> None:
        """Drop the least recently used entries until the disk holds at most max_bytes."""
        with self._db.connect() as connection:
            total = connection.execute(select(func.coalesce(func.sum(ENTRIES.c.size_bytes), 0))).scalar_one()
            if total <= self.max_bytes:
                return
            rows = connection.execute(select(ENTRIES.c.key, ENTRIES.c.size_bytes)
                                      .order_by(ENTRIES.c.last_used)).all()
        victims = []
        for key, size in rows:
            if total <= self.max_bytes:
                break
            victims.append(key)
            total -= size
        self._forget(victims)

    def _forget(self, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        with self._db.begin() as connection:
            removed = connection.execute(delete(ENTRIES).where(ENTRIES.c.key.in_(list(keys)))).rowcount
        with self._lock:
            for key in keys:
                self._memory.pop(key, None)
        for key in keys:
            self._path(key).unlink(missing_ok=True)
        return removed

    # -- housekeeping --------------------------------------------------------------------------------------

    def invalidate(self, *, audio_hash: str | None = None, engine_id: str | None = None) -> int:
        """Forget every entry built from the audio with `audio_hash` (or by `engine_id`); how many went."""
        query = select(ENTRIES.c.key)
        if audio_hash is not None:
            query = query.where(ENTRIES.c.audio_hashes.like(f"%,{audio_hash},%"))
        if engine_id is not None:
            query = query.where(ENTRIES.c.engine_id == engine_id)
        with self._db.connect() as connection:
            keys = [row.key for row in connection.execute(query)]
        return self._forget(keys)

    def clear(self) -> int:
        return self.invalidate()

    def usage(self) -> dict[str, int]:
        with self._db.connect() as connection:
            count, size = connection.execute(
                select(func.count(), func.coalesce(func.sum(ENTRIES.c.size_bytes), 0))).one()
        return {"entries": count, "bytes": size, "max_bytes": self.max_bytes, "in_memory": len(self._memory)}


@dataclass
class BoundPromptCache:
    """The cache as one engine's request sees it (`request.prompts`): scoped to its load key and version."""

    cache: PromptCache
    scope: str
    engine_id: str
    stats: CacheStats = field(default_factory=CacheStats)

    def get_or_compute(self, key_parts: Sequence[Any], compute: Callable[[], T]) -> T:
        return self.cache.get_or_compute(self.scope, self.engine_id, key_parts, compute, self.stats)
