"""The in-process Lambda runtime: each handler module imported and called in this process.

The tests' runtime (``LocalAws(sandboxes=False)``; ``labeler local`` uses sandbox processes,
``labeler_tools.local.sandbox``): a test can reach into a handler, and every function shares this
process's environment. Installed as moto's Lambda runtime by ``labeler_tools.local.hooks.awslambda``.

This process is one execution environment for every function: handlers run one at a time, as in a
Lambda process, so that they need not be thread-safe (they share Powertools' log keys and metrics
buffer here, and every module global). The function's Timeout is enforced: past it, Invoke answers
``Sandbox.Timedout`` as Lambda does (the handler's thread cannot be killed; it finishes in the
background, its result dropped, and the next invocation waits for it).
"""

from __future__ import annotations

import concurrent.futures
import importlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labeler_tools.local.lambda_runtime import LambdaContext, error_payload, timed_out_payload

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction

Handler = Callable[[Any, Any], Any]

#: Runs handlers so that Invoke can stop waiting at the function's timeout.
_HANDLER_THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="lambda")
#: Held by the handler that runs: one invocation at a time in this process.
_ONE_AT_A_TIME = threading.Lock()


@dataclass
class InProcessLambdas:
    """Runs moto Lambda functions as Python handlers in this process.

    ``modules`` maps a function name to the dotted module of its handler (``functions.label.handler``);
    the attribute is the part of the function's ``Handler`` setting after the last dot.
    """

    modules: Mapping[str, str]

    def handler_for(self, function: LambdaFunction) -> Handler:
        module_name = self.modules.get(function.function_name)
        if module_name is None:
            raise LookupError(
                f"no in-process handler registered for Lambda function {function.function_name!r}"
            )
        attribute = str(function.handler).rsplit(".", 1)[-1]
        with _ONE_AT_A_TIME:  # a handler module's first import (its init phase) runs alone too
            module = importlib.import_module(module_name)
        handler: Handler = getattr(module, attribute)
        return handler

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        context = LambdaContext.for_invocation(function)
        running = _HANDLER_THREADS.submit(_alone, self.handler_for(function), event, context)
        try:
            result = running.result(timeout=context.timeout_s)
        except concurrent.futures.TimeoutError:
            return json.dumps(timed_out_payload(context.timeout_s)), True, ""
        except Exception as error:  # every handler error becomes a Lambda error payload
            return json.dumps(error_payload(error)), True, ""
        return json.dumps(result), False, ""


def _alone(handler: Handler, event: Any, context: LambdaContext) -> Any:
    with _ONE_AT_A_TIME:
        return handler(event, context)
