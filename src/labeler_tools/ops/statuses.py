"""Record statuses that ``labeler replay`` accepts; a light module, imported when the CLI starts."""

from __future__ import annotations

from enum import StrEnum


class Replayable(StrEnum):
    """Record statuses ``labeler replay --status`` selects (REJECTED only when asked for)."""

    FAILED = "FAILED"
    REJECTED = "REJECTED"
