"""Hooks that close moto's gaps so the real pipeline runs on one machine (pinned to moto 5.2.5).

Each hook replaces one small, named piece of moto and is covered by a contract test in
``tests/integration/test_moto_hooks.py`` that fails loudly if a moto upgrade moves it.

- Lambda Invoke needs Docker in moto. ``install_in_process_lambdas`` replaces the one method that
  runs code, ``LambdaFunction._invoke_lambda``, so Invoke imports our handler module and calls it in
  this process. A handler exception comes back as the Lambda error payload with ``errorType`` set
  to the exception's class name: that is what the ASL's Retry and Catch match.
  All functions share this process's environment (their moto ``Environment`` is not applied): the
  local runtime sets one environment for all three, which is what the stack deploys anyway.
  The function's Timeout is enforced: past it, Invoke answers ``Sandbox.Timedout`` as Lambda does
  (the handler's thread cannot be killed; it finishes in the background, its result dropped).
- moto's ASL interpreter really sleeps between retries. ``scale_retry_waits`` scales those sleeps
  (tests use a small factor) without touching the intervals written in the ASL.
- EventBridge in moto has no Step Functions targets (``Rule.send_to_targets`` raises
  NotImplementedError, which S3's notification path swallows, silently stopping delivery to later
  rules), fires DISABLED rules, sends S3 events to every bus, and shapes the S3 event unlike AWS
  (raw key, ``eTag``, a constant sequencer, an epoch ``time``). ``install_eventbridge_delivery``
  replaces ``Rule.send_to_targets`` (DISABLED honoured; a Step Functions target starts an execution
  named like AWS names them) and ``moto.s3.notifications._send_event_bridge_message`` (the event as
  AWS sends it, to the default bus only).
- Speed (``install_speedups``; measured in ``make bench``): moto's server lists its own package
  folder on every request while holding a global lock (``backends.list_of_moto_modules``: cached);
  its ASL interpreter re-parses the definition with ANTLR for every execution
  (``ExecutionWorker._get_evaluation_entrypoint``: parsed once per definition; evaluation state
  lives in each execution's Environment, not in the parsed tree) and builds a new boto3 client
  for every task (``boto_client_for``: one client per service and region), and compiles every
  JSONPath with a fresh yacc parser each time it evaluates it (``json_path.parse``: cached).
- moto keeps every execution, with its history and worker, for the life of the process.
  ``prune_finished_executions`` drops all but the newest finished ones, so a long-running local
  stack's memory stays bounded.
- ``route_in_process_calls``: the AWS calls this process makes itself (the handlers, the ASL
  interpreter's Lambda/SNS calls) go straight to moto's backends through moto's own botocore
  hook, the one ``mock_aws`` uses, instead of a loopback HTTP round trip each. The HTTP server
  keeps serving every other client (browser, CLI, aws-cli, tests in other processes) from the
  same backends.
"""

from __future__ import annotations

import concurrent.futures
import copy
import functools
import importlib
import json
import sys
import threading
import time
import traceback
import types
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonpath_ng
import jsonpath_ng.ext
from moto import backends as moto_backends
from moto.awslambda.models import LambdaFunction
from moto.core.models import botocore_stubber
from moto.events import models as events_models
from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.s3 import notifications as s3_notifications
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client as asl_boto_client
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.responses import get_backend as stepfunctions_backend
from moto.utilities.arns import parse_arn

from labeler.events import build_object_created_event

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


#: Runs handlers so that Invoke can stop waiting at the function's timeout.
_HANDLER_THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="lambda")


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
        running = _HANDLER_THREADS.submit(self.handler_for(function), event, context)
        try:
            result = running.result(timeout=context.timeout_s)
        except concurrent.futures.TimeoutError:
            timed_out = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"Task timed out after {context.timeout_s:.2f} seconds",
            }
            return json.dumps(timed_out), True, ""
        except Exception as error:  # every handler error becomes a Lambda error payload
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


_ORIGINAL_SEND_TO_TARGETS = Rule.send_to_targets


def _start_execution(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    """What EventBridge does for a Step Functions target: StartExecution with an AWS-style name."""
    backend = stepfunctions_backend(rule.account_id, rule.region_name)
    backend.start_execution(target["Arn"], name=str(uuid.uuid4()), execution_input=json.dumps(event))


def _send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    if self.state != "ENABLED" or not self.event_pattern.matches_event(original_event):
        return
    others = []
    for target in self.targets:
        if parse_arn(target["Arn"]).service == "states":
            transformer = target.get("InputTransformer", {})
            event = (
                EventTemplateParser.parse(
                    input_template=transformer.get("InputTemplate"),
                    input_paths_map=transformer.get("InputPathsMap", {}),
                    event=original_event,
                )
                if transform_input
                else original_event
            )
            _start_execution(self, target, event)
        else:
            others.append(target)
    if others:
        rule = copy.copy(self)
        rule.targets = others
        _ORIGINAL_SEND_TO_TARGETS(rule, original_event, transform_input)


def install_eventbridge_delivery(sequencer: Callable[[], str]) -> None:
    """Deliver S3 events through EventBridge as AWS does; ``sequencer`` mints increasing S3 sequencers."""

    def send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        detail_type = s3_notifications._detail_type(event_name)
        event = build_object_created_event(
            bucket=bucket.name,
            key=key.name,
            size=int(key.size),
            etag=key.etag,
            version_id=key.version_id if key.version_id not in (None, "null") else None,
            sequencer=sequencer(),
            region=bucket.region_name,
            account=account_id,
            reason=event_name.split(":")[-1],
        )
        event["detail-type"] = detail_type
        default_bus = events_models.events_backends[account_id][bucket.region_name].event_buses.get("default")
        for rule in list(default_bus.rules.values()) if default_bus else []:
            rule.send_to_targets(event, transform_input=False)  # type: ignore[arg-type]

    Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign]
    s3_notifications._send_event_bridge_message = send_event_bridge_message


#: States whose parsed components keep per-run state on themselves; definitions using them are
#: parsed per execution as moto does.
_STATEFUL_STATE_TYPES = ('"Type": "Map"', '"Type": "Parallel"', '"Type":"Map"', '"Type":"Parallel"')


def _warm_heap_keys(component: Any, seen: set[int]) -> None:
    """Assign every component's lazily created heap key now, before threads share the tree."""
    if id(component) in seen:
        return
    seen.add(id(component))
    if isinstance(component, EvalComponent):
        _ = component.heap_key
        children: Any = vars(component).values()
    elif isinstance(component, list | tuple | set):
        children = component
    elif isinstance(component, dict):
        children = component.values()
    else:
        return
    for child in children:
        _warm_heap_keys(child, seen)


@functools.lru_cache(maxsize=32)
def _parsed_program(definition: str) -> Any:
    program = AmazonStateLanguageParser.parse(definition)[0]
    _warm_heap_keys(program, set())
    return program


def _evaluation_entrypoint(self: ExecutionWorker) -> Any:
    definition = self._evaluation_details.state_machine_details.definition
    if any(marker in definition for marker in _STATEFUL_STATE_TYPES):
        return AmazonStateLanguageParser.parse(definition)[0]
    return _parsed_program(definition)


_ORIGINAL_BOTO_CLIENT_FOR = asl_boto_client.boto_client_for
_CLIENT_LOCK = threading.Lock()


@functools.lru_cache(maxsize=64)
def _shared_client(region: str, service: str, port: int) -> Any:  # noqa: ARG001 - port: cache key
    with _CLIENT_LOCK:
        return _ORIGINAL_BOTO_CLIENT_FOR(region=region, service=service)


def _boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:  # noqa: ARG001
    from moto.settings import moto_server_port

    return _shared_client(region, service, int(moto_server_port()))


def _rebind(name: str, original: Any, replacement: Any) -> None:
    """Replace ``name`` in every module of moto's ASL interpreter that imported ``original`` by name."""
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("moto.stepfunctions.parser") and getattr(module, name, None) is original:
            setattr(module, name, replacement)


def install_speedups() -> None:
    """Remove moto's per-request and per-execution setup costs (see the module docstring)."""
    original_modules = moto_backends.list_of_moto_modules
    moto_backends.list_of_moto_modules = functools.cache(lambda: tuple(original_modules()))
    ExecutionWorker._get_evaluation_entrypoint = _evaluation_entrypoint  # type: ignore[method-assign]
    # Import every ASL service module first, so that every by-name import is rebound.
    importlib.import_module(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_factory"
    )
    importlib.import_module("moto.stepfunctions.parser.asl.component.common.path.result_path")
    _rebind("boto_client_for", _ORIGINAL_BOTO_CLIENT_FOR, _boto_client_for)
    # A compiled JSONPath is immutable; the same few paths are evaluated thousands of times.
    parsers: list[Callable[[str], Any]] = [jsonpath_ng.parse, jsonpath_ng.ext.parse]  # type: ignore[attr-defined]
    for parse in parsers:
        _rebind("parse", parse, functools.lru_cache(maxsize=1024)(parse))


def route_in_process_calls() -> None:
    """Dispatch this process's boto3 calls to AWS endpoints in process (see the module docstring).

    Clients must use AWS's own endpoints (no ``AWS_ENDPOINT_URL``); a call for anything moto does not
    implement is answered 404 in process, never sent to AWS.
    """
    botocore_stubber.enabled = True


def prune_finished_executions(account_id: str, region: str, keep: int) -> int:
    """Forget all but the ``keep`` most recent finished executions of each state machine; returns how
    many were dropped. Running executions are never touched."""
    dropped = 0
    for state_machine in stepfunctions_backend(account_id, region).state_machines:
        # The ASL-executing backend's executions carry exec_status (None until they start).
        finished = [
            execution
            for execution in list(state_machine.executions)
            if (status := getattr(execution, "exec_status", None)) is not None and status.value != "RUNNING"
        ]
        finished.sort(key=lambda execution: execution.start_date)
        for execution in finished[: max(len(finished) - keep, 0)]:
            state_machine.executions.remove(execution)  # remove() is safe beside a concurrent append
            dropped += 1
    return dropped
