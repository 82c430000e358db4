"""What a local Lambda invocation hands a handler and answers for it, and how many may run at once:
shared by the in-process runtime (``labeler_tools.local.in_process_lambdas``), the sandbox processes
(``labeler_tools.local.sandbox``), which must not import moto, and the CLI, which must start fast."""

from __future__ import annotations

import os
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

#: Sandboxes one function may run at once, unless told otherwise: one per CPU, since the handlers'
#: work is CPU (theirs, or the stack's answering their calls).
DEFAULT_SANDBOXES_PER_FUNCTION = max(1, os.cpu_count() or 1)


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that Powertools and our handlers read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(default=0.0, repr=False)

    @classmethod
    def for_invocation(cls, function: Any) -> LambdaContext:
        """A new context (request id, deadline) for one invocation of a moto ``LambdaFunction``."""
        return cls(
            function_name=function.function_name,
            memory_limit_in_mb=int(function.memory_size),
            invoked_function_arn=function.function_arn,
            timeout_s=int(function.timeout),
        )

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_payload(error: BaseException) -> dict[str, Any]:
    """The payload Lambda returns for an unhandled exception."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__)[-5:],
    }


def timed_out_payload(timeout_s: float) -> dict[str, str]:
    """The payload Lambda returns when a function runs past its timeout."""
    return {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {timeout_s:.2f} seconds"}
