"""Cheap checks of the text a speech engine is given, before a job is queued: which characters it can read."""
from __future__ import annotations

import unicodedata
from collections.abc import Callable

SHOWN = 8  # characters named in a message at most


def latin_or_digit(ch: str) -> bool:
    """A letter of the Latin script (accents included) or an ASCII digit: what English text-to-phoneme rules read."""
    return (ch.isascii() and ch.isalnum()) or unicodedata.name(ch, "").startswith("LATIN ")


def unreadable(text: str, readable: Callable[[str], bool]) -> list[str]:
    """The letters, digits and symbols (emoji included) of `text` that `readable` refuses, each once, in order;
    spaces, punctuation, marks and invisible joiners are not counted."""
    found = [ch for ch in text if unicodedata.category(ch)[0] in "LNS" and not readable(ch)]
    return list(dict.fromkeys(found))


def named(characters: list[str]) -> str:
    """'🙂, 🎉, あ' (and how many more), for a message."""
    more = len(characters) - SHOWN
    return ", ".join(characters[:SHOWN]) + (f" and {more} more" if more > 0 else "")
