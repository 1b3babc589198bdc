"""What a history listing asks for (search, filters, sort, page) and the SQL conditions that answer it."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import String, and_, cast, func, or_, text
from sqlalchemy.sql import ColumnElement

from .table import Generation

GENERATIONS = Generation.__table__
G = GENERATIONS.c

SORTS: dict[str, str] = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "longest": "Longest first",
    "shortest": "Shortest first",
    "rating": "Best rated first",
}
MAX_PAGE = 500


class HistoryError(ValueError):
    """A history request the studio refuses; the message says what to fix. `status` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class HistoryQuery:
    search: str = ""  # words of the text, notes or tags; each word matches as a prefix
    task: str | None = None
    engine_id: str | None = None
    profile_id: str | None = None
    date_from: dt.date | None = None  # inclusive, local time
    date_to: dt.date | None = None  # inclusive, local time
    favourite: bool | None = None  # True: only favourites; False: only the others
    tag: str | None = None
    min_rating: int | None = None
    sort: str = "newest"
    grouped: bool = False  # one entry per original (its takes counted); filters match any take of a group
    limit: int = 20
    offset: int = 0

    def checked(self) -> HistoryQuery:
        if self.sort not in SORTS:
            raise HistoryError(f"Unknown sort {self.sort!r}: use one of {', '.join(SORTS)}.")
        if not 1 <= self.limit <= MAX_PAGE:
            raise HistoryError(f"limit must be between 1 and {MAX_PAGE}.")
        if self.offset < 0:
            raise HistoryError("offset cannot be negative.")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise HistoryError(f"The date range ends ({self.date_to}) before it starts ({self.date_from}).")
        if self.min_rating is not None and not 0 <= self.min_rating <= 5:
            raise HistoryError("min_rating must be between 0 and 5 stars.")
        return self

    def page(self, offset: int) -> HistoryQuery:
        return replace(self, offset=max(offset, 0))


def day_start(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time()).timestamp()


def match_expression(search: str) -> str | None:
    """An FTS5 query in which every word of `search` must appear, as a word or the start of one."""
    words = re.findall(r"\w+", search)
    return " ".join(f'"{word}"*' for word in words) if words else None


def conditions(query: HistoryQuery, text_index: bool) -> list[ColumnElement[bool]]:
    """The WHERE conditions of `query` (without grouping, sorting or paging)."""
    where: list[ColumnElement[bool]] = []
    match = match_expression(query.search)
    if match and text_index:
        where.append(G.seq.in_(text("SELECT rowid FROM generations_fts WHERE generations_fts MATCH :match")
                               .bindparams(match=match).columns(G.seq)))
    elif match:  # no FTS5 in this SQLite: slower, same meaning for plain words
        for word in re.findall(r"\w+", query.search):
            pattern = f"%{word.lower()}%"
            where.append(or_(*(func.lower(column).like(pattern) for column in (G.text, G.notes, cast(G.tags, String)))))
    for column, value in ((G.task, query.task), (G.engine_id, query.engine_id), (G.profile_id, query.profile_id)):
        if value:
            where.append(column == value)
    if query.date_from:
        where.append(G.created_at >= day_start(query.date_from))
    if query.date_to:
        where.append(G.created_at < day_start(query.date_to + dt.timedelta(days=1)))
    if query.favourite is not None:
        where.append(G.favourite.is_(query.favourite))
    if query.min_rating:
        where.append(G.rating >= query.min_rating)
    if query.tag:
        where.append(text("EXISTS (SELECT 1 FROM json_each(generations.tags) AS t WHERE lower(t.value) = :tag)")
                     .bindparams(tag=query.tag.strip().lower()))
    return where


def order_by(sort: str, grouped: bool = False) -> list[Any]:
    """ORDER BY for `sort`; grouped, "newest" means the group with the newest take first."""
    return {
        "newest": [(G.last_take_at if grouped else G.created_at).desc()],
        "oldest": [G.created_at.asc()],
        "longest": [G.duration.desc(), G.created_at.desc()],
        "shortest": [G.duration.asc(), G.created_at.desc()],
        "rating": [G.rating.desc(), G.created_at.desc()],
    }[sort]


def all_of(where: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return and_(True, *where)
