"""Splitting long text into chunks a speech engine handles well: at sentence ends, else clauses, else words."""
from __future__ import annotations

import re

SENTENCE_END = re.compile(r"(?<=[.!?…。！？])[\"'”’)\]]*\s+|\n\s*\n")
CLAUSE_END = re.compile(r"(?<=[,;:—、，；：])\s+")


def split_text(text: str, max_chars: int) -> list[str]:
    """Chunks of at most `max_chars` (a single longer word stays whole), cut at the most natural boundary.

    Sentences are packed together while they fit; a sentence longer than the limit is cut at clauses, and
    a clause longer than the limit at spaces. Joining the chunks with spaces gives back the text's words.
    """
    chunks: list[str] = []
    current = ""
    for piece in _pieces(text.strip(), max_chars):
        if current and len(current) + 1 + len(piece) > max_chars:
            chunks.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def _pieces(text: str, max_chars: int) -> list[str]:
    pieces = []
    for sentence in (s.strip() for s in SENTENCE_END.split(text)):
        if not sentence:
            continue
        if len(sentence) <= max_chars:
            pieces.append(sentence)
            continue
        for clause in (c.strip() for c in CLAUSE_END.split(sentence)):
            if len(clause) <= max_chars:
                pieces.append(clause)
            else:
                pieces.extend(clause.split())
    return [p for p in pieces if p]
