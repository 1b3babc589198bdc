"""The voice library: profiles, reference samples with transcripts and versions, the reference doctor, fixes."""
from .service import (MAX_SAMPLE_SECONDS, MIN_SAMPLE_SECONDS, LibraryError, LibraryService, NotFound, ProfileInfo,
                      SampleInfo)

__all__ = ["MAX_SAMPLE_SECONDS", "MIN_SAMPLE_SECONDS", "LibraryError", "LibraryService", "NotFound", "ProfileInfo",
           "SampleInfo"]
