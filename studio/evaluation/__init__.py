"""Evaluation as a service: one clip, one pair, whole sets or a selection of generations, scored by every metric
in `studio.metrics`, run as jobs and stored with the generations they scored."""
from .report import ItemResult, Report
from .service import EVALUATE, EvaluationRequest, EvaluationService
from .store import Score

__all__ = ["EVALUATE", "EvaluationRequest", "EvaluationService", "ItemResult", "Report", "Score"]
