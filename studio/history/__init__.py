"""The generation history (every kept generation, searchable, re-runnable) and blind A/B comparisons."""
from .query import SORTS, HistoryError, HistoryQuery
from .service import Bucket, HistoryItem, HistoryPage, HistoryService, HistoryStats

__all__ = ["SORTS", "Bucket", "HistoryError", "HistoryItem", "HistoryPage", "HistoryQuery", "HistoryService",
           "HistoryStats"]
