"""Singing voice conversion: the conversion page for engines of task "svc", with note names on the pitch plot."""
from __future__ import annotations

from studio.services import Services

from .conversion import ConversionPage, ConversionTask
from .shortcuts import Shortcuts

SINGING = ConversionTask("svc", "Singing voice conversion",
                         "Sing it in another voice: the source's melody, lyrics and timing, the target's voice.", True)


def singing_page(services: Services, shortcuts: Shortcuts) -> None:
    ConversionPage(services, shortcuts, SINGING)
