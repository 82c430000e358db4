"""Typed pipeline errors.

The class name of an exception raised by a handler becomes the Lambda ``errorType`` and therefore
the Step Functions error name that the ASL's Retry and Catch match on. Renaming a class here is a
contract change with ``statemachine/pipeline.asl.json``.
"""

from __future__ import annotations

import re
from enum import StrEnum


class RejectionCode(StrEnum):
    """Why an image can never be labeled. Stable machine codes shown to users and operators."""

    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    EMPTY = "EMPTY"
    TOO_LARGE = "TOO_LARGE"
    TOO_SMALL = "TOO_SMALL"
    DIMENSIONS_TOO_LARGE = "DIMENSIONS_TOO_LARGE"
    TRUNCATED_HEADER = "TRUNCATED_HEADER"
    OBJECT_GONE = "OBJECT_GONE"
    INVALID_KEY = "INVALID_KEY"
    UNREADABLE_IMAGE = "UNREADABLE_IMAGE"
    #: S3 will not hand out the bytes: an archived storage class, or a customer-provided key (SSE-C).
    OBJECT_NOT_READABLE = "OBJECT_NOT_READABLE"
    #: A daily quota (this uploader's, or everyone's) is used up; the reason says when it resets.
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""


class ImageRejected(PipelineError):
    """Permanent: this object is not an image we can label. Never retried.

    The message is ``CODE: human readable reason`` so that the code survives the trip through the
    Lambda error payload and the Step Functions ``Cause`` string.
    """

    _MESSAGE = re.compile(r"^(?P<code>[A-Z_]+): (?P<reason>.*)$", re.DOTALL)

    def __init__(self, code: RejectionCode, reason: str) -> None:
        super().__init__(f"{code.value}: {reason}")
        self.code = code
        self.reason = reason

    @classmethod
    def parse_message(cls, message: str) -> tuple[str, str]:
        """Split an ``errorMessage`` produced by this class back into (code, reason)."""
        match = cls._MESSAGE.match(message)
        if match is None:
            return "UNKNOWN", message
        return match["code"], match["reason"]


class TransientError(PipelineError):
    """Base for errors that the state machine retries with backoff."""


class LabelServiceThrottled(TransientError):
    """The label backend is throttling or temporarily unavailable."""


class StorageThrottled(TransientError):
    """S3 or DynamoDB asked us to slow down, or answered with a server error."""


class LabelBackendMisconfigured(PipelineError):
    """Permanent for this execution but not the image's fault (e.g. AccessDenied).

    Recorded FAILED, so it can be replayed once the configuration is fixed.
    """


class BackfillItemFailed(PipelineError):
    """A backfill item's pipeline execution ended without a LABELED or REJECTED record: the map counts
    the item as failed (its tolerated-failure threshold), and ``--mode failed`` finds it again."""
