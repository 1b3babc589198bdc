"""The error every refusal of a project raises: a message that says what is wrong and what to do."""
from __future__ import annotations


class ProjectError(ValueError):
    """A project the studio cannot export or import; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
