"""Record statuses that ``labeler replay`` accepts; a light module, imported when the CLI starts."""

from __future__ import annotations

from enum import StrEnum

from labeler.models import ImageStatus


class Replayable(StrEnum):
    """Record statuses ``labeler replay --status`` selects (REJECTED only when asked for): a choice
    among :class:`ImageStatus`, whose values these are."""

    FAILED = ImageStatus.FAILED.value
    REJECTED = ImageStatus.REJECTED.value
