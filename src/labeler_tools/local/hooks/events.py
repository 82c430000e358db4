"""EventBridge (``moto.events``): rule targets as AWS delivers to them.

moto's ``Rule.send_to_targets`` fires DISABLED rules and has no Step Functions targets (it raises
NotImplementedError, which S3's notification path swallows, silently stopping delivery to later
rules). ``install`` replaces it: DISABLED is honoured, a Step Functions target starts an execution
named like AWS names them, a Lambda target is invoked asynchronously (retried as Lambda retries it),
and any other target goes to moto's own delivery. (How S3 events reach the rules: ``hooks.s3``.)
"""

from __future__ import annotations

import concurrent.futures
import copy
import json
import logging
import uuid
from typing import Any

from moto.awslambda.models import lambda_backends
from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.stepfunctions.responses import get_backend as stepfunctions_backend
from moto.utilities.arns import parse_arn

from labeler.events import DOTTED_PATH, transform_input

log = logging.getLogger("labeler_tools.local")

_ORIGINAL_SEND_TO_TARGETS = Rule.send_to_targets
#: Lambda retries a failed asynchronous invocation twice (EventBridge targets invoke asynchronously).
ASYNC_INVOKE_RETRIES = 2
_ASYNC_INVOCATIONS = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="lambda-async")


def _start_execution(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    """What EventBridge does for a Step Functions target: StartExecution with an AWS-style name."""
    backend = stepfunctions_backend(rule.account_id, rule.region_name)
    backend.start_execution(target["Arn"], name=str(uuid.uuid4()), execution_input=json.dumps(event))


def _invoke_async(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    """What EventBridge does for a Lambda target: an asynchronous Invoke, retried twice on an error."""
    backend = lambda_backends[rule.account_id][rule.region_name]
    body = json.dumps(event)

    def invoke() -> None:
        for attempt in range(1 + ASYNC_INVOKE_RETRIES):
            response_headers: dict[str, str] = {}
            backend.invoke(target["Arn"], None, body, {}, response_headers)
            if "x-amz-function-error" not in response_headers:
                return
            log.warning("asynchronous invocation of %s failed (attempt %d)", target["Arn"], attempt + 1)

    _ASYNC_INVOCATIONS.submit(invoke)


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The target's InputTransformer applied to the event, or the whole event when it has none.

    moto's parser compiles each input path with a fresh JSONPath parser, for every event; dotted
    paths, all this stack uses, are resolved directly.
    """
    transformer = target.get("InputTransformer")
    if not transformer:
        return event
    paths = transformer.get("InputPathsMap", {})
    if all(DOTTED_PATH.match(path) for path in paths.values()):
        return transform_input(paths, transformer["InputTemplate"], event)
    return EventTemplateParser.parse(
        input_template=transformer["InputTemplate"],
        input_paths_map=paths,
        # moto's parser needs the time EventBridge received the event (its put_events adds it).
        event={"ingestion-time": event.get("time"), **event},  # type: ignore[typeddict-item]
    )


def _send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    if self.state != "ENABLED" or not self.event_pattern.matches_event(original_event):
        return
    others = []
    for target in self.targets:
        service = parse_arn(target["Arn"]).service
        if service == "states":
            _start_execution(self, target, _target_input(target, original_event))
        elif service == "lambda":
            _invoke_async(self, target, _target_input(target, original_event))
        else:
            others.append(target)
    if others:
        rule = copy.copy(self)
        rule.targets = others
        _ORIGINAL_SEND_TO_TARGETS(rule, original_event, transform_input)


def install() -> None:
    """Deliver to a rule's targets as EventBridge does (see the module docstring)."""
    Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign]
