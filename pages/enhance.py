"""Speech enhancement: the conversion page for engines of task "enhance" (a noisy source cleaned up, or one voice
kept from a mixture given an enrolment clip), with the result beside its source.

A page of its own rather than a mode of voice conversion: enhancement keeps the voice and the words and changes
the recording, and a user looking to clean a clip does not look under "conversion"; the shared page pattern
(source first, then whatever other slot the engine declares, such as target-speaker extraction's enrolment)
serves it unchanged."""
from __future__ import annotations

from studio.services import Services

from .conversion import ConversionPage, ConversionTask
from .shortcuts import Shortcuts

ENHANCE = ConversionTask("enhance", "Enhancement",
                         "Clean up speech: take noise and reverberation out, or keep one speaker from a mixture.",
                         False, action="Enhance")


def enhance_page(services: Services, shortcuts: Shortcuts) -> None:
    ConversionPage(services, shortcuts, ENHANCE)
