"""The voice library: profiles, reference samples with transcripts and versions, the reference doctor, fixes."""
from .records import MAX_SAMPLE_SECONDS, MIN_SAMPLE_SECONDS, LibraryError, NotFound, ProfileInfo, SampleInfo
from .service import LibraryService

__all__ = ["MAX_SAMPLE_SECONDS", "MIN_SAMPLE_SECONDS", "LibraryError", "LibraryService", "NotFound", "ProfileInfo",
           "SampleInfo"]
