"""Status vocabularies that options accept; a light module, imported when the CLI starts."""

from __future__ import annotations

from enum import StrEnum


class ExecutionStatus(StrEnum):
    """Step Functions' execution statuses (``labeler executions list --status``)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    PENDING_REDRIVE = "PENDING_REDRIVE"


class Replayable(StrEnum):
    """Record statuses ``labeler replay --status`` selects (REJECTED only when asked for)."""

    FAILED = "FAILED"
    REJECTED = "REJECTED"
