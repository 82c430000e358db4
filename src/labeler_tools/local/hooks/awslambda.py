"""Lambda (``moto.awslambda``): Invoke runs our handlers, not Docker.

moto runs a function's code in Docker. ``install`` replaces the one method that runs code,
``LambdaFunction._invoke_lambda``, with a runtime of ours: ``labeler local`` runs each function in its
own sandbox process (``labeler_tools.local.sandbox.SandboxedLambdas``, with the function's own
environment); the tests use ``labeler_tools.local.in_process_lambdas.InProcessLambdas``, which runs the
handler in this process, so that a test can reach into it. Either way a handler exception comes back
as the Lambda error payload with ``errorType`` set to the exception's class name (what the ASL's Retry
and Catch match), and past the function's Timeout, Invoke answers ``Sandbox.Timedout`` as Lambda does.
"""

from __future__ import annotations

from typing import Any, Protocol

from moto.awslambda.models import LambdaFunction


class LambdaRuntime(Protocol):
    """Runs one invocation of a moto Lambda function: (payload JSON, is_error, logs)."""

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]: ...


def install(runtime: LambdaRuntime) -> None:
    """Make every moto Lambda Invoke in this process run through ``runtime`` (in process, or sandboxes)."""

    def _invoke_lambda(self: LambdaFunction, event: str | None = None) -> tuple[str, bool, str]:
        return runtime.invoke(self, {} if event is None else event)

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
