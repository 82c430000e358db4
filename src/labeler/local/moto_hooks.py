"""Hooks that close moto's gaps so the real pipeline runs on one machine (pinned to moto 5.2.5).

Each hook replaces one small, named piece of moto and is covered by a contract test in
``tests/integration/test_moto_hooks.py`` that fails loudly if a moto upgrade moves it.

- Lambda Invoke needs Docker in moto. ``install_in_process_lambdas`` replaces the one method that
  runs code, ``LambdaFunction._invoke_lambda``, so Invoke imports our handler module and calls it in
  this process. A handler exception comes back as the Lambda error payload with ``errorType`` set
  to the exception's class name: that is what the ASL's Retry and Catch match.
  All functions share this process's environment (their moto ``Environment`` is not applied): the
  local runtime sets one environment for all three, which is what the stack deploys anyway.
- moto's ASL interpreter really sleeps between retries. ``scale_retry_waits`` scales those sleeps
  (tests use a small factor) without touching the intervals written in the ASL.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import traceback
import types
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

Handler = Callable[[Any, Any], Any]


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


@dataclass
class InProcessLambdas:
    """Runs moto Lambda functions as Python handlers in this process.

    ``modules`` maps a function name to the dotted module of its handler (``functions.label.handler``);
    the attribute is the part of the function's ``Handler`` setting after the last dot.
    """

    modules: Mapping[str, str]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def handler_for(self, function: LambdaFunction) -> Handler:
        module_name = self.modules.get(function.function_name)
        if module_name is None:
            raise LookupError(
                f"no in-process handler registered for Lambda function {function.function_name!r}"
            )
        attribute = str(function.handler).rsplit(".", 1)[-1]
        with self._lock:  # first import of a handler module must not race
            module = importlib.import_module(module_name)
        handler: Handler = getattr(module, attribute)
        return handler

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        context = LambdaContext(
            function_name=function.function_name,
            memory_limit_in_mb=int(function.memory_size),
            invoked_function_arn=function.function_arn,
            timeout_s=int(function.timeout),
        )
        try:
            result = self.handler_for(function)(event, context)
        except Exception as error:
            return json.dumps(error_payload(error)), True, ""
        return json.dumps(result), False, ""


def install_in_process_lambdas(runtime: InProcessLambdas) -> None:
    """Make every moto Lambda Invoke in this process run through ``runtime``."""

    def _invoke_lambda(self: LambdaFunction, event: str | None = None) -> tuple[str, bool, str]:
        return runtime.invoke(self, {} if event is None else event)

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]


def scale_retry_waits(factor: float) -> None:
    """Scale the sleeps of moto's ASL Retry by ``factor`` (1.0 restores real waits)."""
    retrier_decl.time = types.SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * factor))  # type: ignore[assignment,attr-defined]
