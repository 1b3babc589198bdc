"""Codecs: the conversion page for engines of task "codec". A clip is encoded to a codec's tokens (or bits) and
decoded back, and the result sits beside its source, so what the codec keeps and loses is heard and seen; the
bit rate it used is on the card, and "Compare with source" opens the A/B view."""
from __future__ import annotations

from studio.services import Services

from .conversion import ConversionPage, ConversionTask
from .shortcuts import Shortcuts

CODECS = ConversionTask("codec", "Codecs",
                        "Encode a clip and decode it again: hear what a codec keeps and what it loses at its bit rate.",
                        False, action="Encode and decode")


def codecs_page(services: Services, shortcuts: Shortcuts) -> None:
    ConversionPage(services, shortcuts, CODECS)
