"""History benchmark: listing, paging, search and filter latency with 10 000 generations against 100 (ratios).

    .venv/bin/python tests/benchmarks/bench_history.py

Rows are inserted straight into the table (the FTS triggers index them as the studio's own inserts do), with
varied texts, engines, profiles, tags, favourites, ratings, dates over a year and one item in ten a take.
Each query is the one the History page or GET /api/history runs; the median of several runs is reported.
Not a test: nothing here asserts.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

WORDS = ("morning light river voice studio quiet thunder garden paper window silver autumn engine melody "
         "harbour lantern meadow orbit pepper quartz saddle timber velvet whistle yellow zephyr").split()
ENGINES = ("builtin.hibari", "amphion.maskgct", "amphion.vevo")
RUNS = 15


def fill(home: Path, count: int):  # type: ignore[no-untyped-def]
    os.environ["STUDIO_HOME"] = str(home)
    from sqlalchemy import insert

    from studio.history.query import GENERATIONS
    from studio.services import build_services
    from studio.settings import Settings

    services = build_services(Settings.load())
    rng = random.Random(count)
    now = time.time()
    rows, originals = [], []
    for i in range(count):
        generation_id = f"{i:012x}"
        original = rng.choice(originals) if originals and rng.random() < 0.1 else None
        if original is None:
            originals.append(generation_id)
        rows.append({
            "id": generation_id, "task": "tts", "engine_id": rng.choice(ENGINES), "title": f"Item {i}",
            "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 30))) + (" rarewordzz" if i % 997 == 0
                                                                                     else ""),
            "profile_id": rng.choice([None, *(f"profile-{p}" for p in range(20))]), "inputs": {}, "params": {"seed": i},
            "seed": i, "audio": f"generations/{generation_id}.wav", "duration": rng.uniform(1, 30),
            "sample_rate": 24_000, "channels": 1, "rtf": 0.01, "engine_seconds": 0.1, "extras": {},
            "created_at": now - rng.uniform(0, 365 * 86_400), "original_id": original, "take": 2 if original else 1,
            "favourite": rng.random() < 0.1, "rating": rng.choice([0, 0, 0, 3, 4, 5]),
            "tags": rng.sample(["intro", "calm", "draft", "final", "chapter"], rng.randint(0, 2)), "notes": "",
        })
    by_id = {row["id"]: row for row in rows}
    for row in rows:
        row["last_take_at"] = max(row["created_at"], row.get("last_take_at", 0))
        if row["original_id"]:
            root = by_id[row["original_id"]]
            root["last_take_at"] = max(root.get("last_take_at", root["created_at"]), row["created_at"])
    with services.db.begin() as connection:
        connection.execute(insert(GENERATIONS), rows)
    return services


def median_ms(action: Callable[[], object]) -> float:
    action()  # warm the page cache and SQLite's statement cache
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def queries(history) -> dict[str, Callable[[], object]]:  # type: ignore[no-untyped-def]
    from studio.history import HistoryQuery

    month_ago = dt.date.today() - dt.timedelta(days=30)
    return {
        "first page, takes grouped (the page)": lambda: history.list(HistoryQuery(grouped=True)),
        "first page, flat (the API)": lambda: history.list(HistoryQuery(limit=50)),
        "page 50 of 20 (offset 980)": lambda: history.list(HistoryQuery(grouped=True, offset=980)),
        "search a common word": lambda: history.list(HistoryQuery(search="river", grouped=True)),
        "search two word prefixes": lambda: history.list(HistoryQuery(search="riv mel", grouped=True)),
        "search a rare word": lambda: history.list(HistoryQuery(search="rarewordzz", grouped=True)),
        "engine + favourites": lambda: history.list(HistoryQuery(engine_id="amphion.vevo", favourite=True,
                                                                 grouped=True)),
        "profile + last 30 days": lambda: history.list(HistoryQuery(profile_id="profile-3", date_from=month_ago,
                                                                    grouped=True)),
        "tag, sorted by rating": lambda: history.list(HistoryQuery(tag="final", sort="rating", grouped=True)),
        "longest first": lambda: history.list(HistoryQuery(sort="longest", grouped=True)),
        "statistics": lambda: history.stats(),
        "filter options (facets)": lambda: history.facets(),
    }


def main() -> None:
    results: dict[int, dict[str, float]] = {}
    for count in (100, 10_000):
        with tempfile.TemporaryDirectory(prefix="bench-history-") as home:
            started = time.perf_counter()
            services = fill(Path(home), count)
            print(f"{count:>6} generations inserted and indexed in {time.perf_counter() - started:.2f} s")
            results[count] = {name: median_ms(run) for name, run in queries(services.history).items()}
            services.db.dispose()
    print(f"\n{'query':<40} {'100 items':>10} {'10 000':>10} {'ratio':>7}")
    for name in results[100]:
        small, large = results[100][name], results[10_000][name]
        print(f"{name:<40} {small:>8.2f}ms {large:>8.2f}ms {large / small:>6.1f}x")


if __name__ == "__main__":
    main()
