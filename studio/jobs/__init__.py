"""The persistent job queue: one worker thread runs model work one job at a time, with live progress."""
from .queue import BATCH, INTERACTIVE, JobContext, JobInfo, JobQueue
from .table import ACTIVE_STATES, FINISHED_STATES, JobState

__all__ = ["ACTIVE_STATES", "BATCH", "FINISHED_STATES", "INTERACTIVE", "JobContext", "JobInfo", "JobQueue", "JobState"]
