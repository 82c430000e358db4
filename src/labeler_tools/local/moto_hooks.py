"""Hooks that close moto's gaps so the real pipeline runs on one machine (pinned to moto 5.2.5).

Each hook replaces one small, named piece of moto and is covered by a contract test in
``tests/integration/test_moto_hooks.py`` that fails loudly if a moto upgrade moves it.

- Lambda Invoke needs Docker in moto. ``install_lambda_runtime`` replaces the one method that runs
  code, ``LambdaFunction._invoke_lambda``, with a runtime of ours: ``labeler local`` runs each
  function in its own sandbox process (``labeler_tools.local.sandbox``, with the function's own
  environment); the tests use ``InProcessLambdas``, which imports the handler module and calls it in
  this process (all functions then share this process's environment), so that a test can reach
  into a handler. Either way a handler exception comes back as the Lambda error payload with
  ``errorType`` set to the exception's class name: that is what the ASL's Retry and Catch match.
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
  AWS sends it, to the default bus only). moto's PutObject and CopyObject also raise "Object Tags
  Added" (AWS raises it for PutObjectTagging only): those are dropped.
- Speed (``install_speedups``; measured in ``make bench``): moto's server lists its own package
  folder on every request while holding a global lock (``backends.list_of_moto_modules``: cached);
  its ASL interpreter re-parses the definition with ANTLR for every execution
  (``ExecutionWorker._get_evaluation_entrypoint``: parsed once per definition; evaluation state
  lives in each execution's Environment, not in the parsed tree) and builds a new boto3 client
  for every task (``boto_client_for``: one client per service and region), and compiles every
  JSONPath with a fresh yacc parser each time it evaluates it (``json_path.parse``: cached).
  The interpreter deep-copies the state's JSON at every step (``copy.deepcopy``, half its CPU):
  a copy specialised for JSON trees does the same for a fifth of the cost. moto serialises every
  DynamoDB answer by walking the botocore output shape attribute by attribute (~3 ms per item);
  a DynamoDB answer already is the wire JSON, so ``DynamoResult.execute_result`` dumps it directly
  (anything that is not plain JSON, such as a table's creation time, takes moto's path). The same
  walk parses every request; an item operation's request without binary attribute values already
  is its parameters, so ``DynamoHandler.parse_parameters`` loads it with ``json.loads``. Request
  dispatch lists a response class's methods with ``inspect`` on every request (cached per class),
  and routing a call in process rebuilds a backend's URL table on every request (for S3, by
  reloading ``moto.s3.urls`` twice: a tenth of each S3 call; cached per backend class, since the
  environment it reads is fixed for the life of the process). A conditional PutItem parses its
  ConditionExpression twice (once to validate the request, once to evaluate it), and each write
  brings new values: an expression is parsed once per names and value types, with slots where the
  values go, and every parse after that fills the slots with its own values (0.12 ms against
  0.65 ms for our write condition). An item's 400 KB limit is checked by re-measuring every
  attribute at every attribute set (O(n²) per write; a sixth of a PutItem of our 18-attribute
  records): each attribute's size is remembered instead (re-measured when the dict was changed by
  other means; a nested value changed in place keeps its old size). Turning a stored attribute into
  JSON (every item read, projection and PutItem answer) deep-copies each nested map or list once
  for every level above it (``DynamoType.to_regular_json``; every PutItem answer converts the item,
  then moto discards it): one pass builds the same JSON (0.09 ms against 0.67 ms for a record with
  ten labels). A projection converts the whole item once per projected path (``Item.project``; a
  poll for four attributes of a labeled record converted it four times): projections of top-level
  names convert only those attributes.
- ``invoke_lambda_tasks_directly``: a ``lambda:invoke`` Task in moto's ASL interpreter calls
  Lambda through a boto3 client, which serialises, signs and re-parses every invocation (a tenth
  of the local pipeline's CPU). The hook hands the Task's payload to moto's Lambda backend
  directly: same function lookup, same Lambda runtime, same answer shape (``StatusCode``,
  ``FunctionError``, parsed ``Payload``); a Lambda API error (unknown function) becomes the
  ClientError the interpreter turns into ``Lambda.<Code>`` as before.
- moto gives a new identity pool a random id, so every ``labeler local`` start would hand the
  browser a new pool, a new guest identity, and none of its restored uploads.
  ``rename_identity_pool`` gives the pool back the id it had before the restart (guest identities
  need nothing else: moto issues credentials for any identity id).
- moto keeps every execution, with its history and worker, for the life of the process, and its
  ASL interpreter keeps every thread it ever started (about seven per execution) in a module list.
  ``prune_finished_executions`` drops all but the newest finished executions and every finished
  interpreter thread, so what a long-running local stack holds beyond its data stays bounded.
- ``route_in_process_calls``: the AWS calls this process makes itself (the ASL interpreter's
  Lambda/SNS calls, the web page's reads, the handlers when they run in process) go straight to
  moto's backends through moto's own botocore hook, the one ``mock_aws`` uses, instead of a
  loopback HTTP round trip each, signed with SigV4's headers only (``aws_channel``). The sandboxes'
  calls arrive over their channels and ``answer_aws_request`` sends them down the same path. The
  HTTP server keeps serving every other client (browser, CLI, aws-cli, tests in other processes)
  from the same backends.
"""

from __future__ import annotations

import base64
import concurrent.futures
import copy
import functools
import importlib
import io
import json
import logging
import re
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import jsonpath_ng
import jsonpath_ng.ext
from botocore.awsrequest import AWSPreparedRequest
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError
from moto import backends as moto_backends
from moto.awslambda.models import LambdaFunction, lambda_backends
from moto.cognitoidentity.models import cognitoidentity_backends
from moto.core import responses as moto_responses
from moto.core.base_backend import BaseBackend
from moto.core.exceptions import JsonRESTError
from moto.core.models import DEFAULT_ACCOUNT_ID, botocore_stubber
from moto.dynamodb.comparisons import AttributeValue, ConditionExpressionParser
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import DynamoDBBackend, dynamo_type
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.events import models as events_models
from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.s3 import notifications as s3_notifications
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client as asl_boto_client
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.utils import TMP_THREADS
from moto.stepfunctions.responses import get_backend as stepfunctions_backend
from moto.utilities.arns import parse_arn

from labeler.events import (
    DOTTED_PATH,
    build_object_created_event,
    build_object_deleted_event,
    transform_input,
)
from labeler.models import DeletionType
from labeler_tools.local import aws_channel
from labeler_tools.local.lambda_runtime import LambdaContext, error_payload, timed_out_payload

Handler = Callable[[Any, Any], Any]
log = logging.getLogger("labeler_tools.local")


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
        context = LambdaContext.for_invocation(function)
        running = _HANDLER_THREADS.submit(self.handler_for(function), event, context)
        try:
            result = running.result(timeout=context.timeout_s)
        except concurrent.futures.TimeoutError:
            return json.dumps(timed_out_payload(context.timeout_s)), True, ""
        except Exception as error:  # every handler error becomes a Lambda error payload
            return json.dumps(error_payload(error)), True, ""
        return json.dumps(result), False, ""


class LambdaRuntime(Protocol):
    """Runs one invocation of a moto Lambda function: (payload JSON, is_error, logs)."""

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]: ...


def install_lambda_runtime(runtime: LambdaRuntime) -> None:
    """Make every moto Lambda Invoke in this process run through ``runtime`` (in process, or sandboxes)."""

    def _invoke_lambda(self: LambdaFunction, event: str | None = None) -> tuple[str, bool, str]:
        return runtime.invoke(self, {} if event is None else event)

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]


def scale_retry_waits(factor: float) -> None:
    """Scale the sleeps of moto's ASL Retry by ``factor`` (1.0 restores real waits)."""
    retrier_decl.time = types.SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * factor))  # type: ignore[assignment,attr-defined]


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

    moto's parser compiles each input path with a fresh JSONPath parser (2.4 ms for the upload
    rule's eight paths); dotted paths, all this stack uses, are resolved directly.
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


#: Set while moto's S3 handler for PutObject or CopyObject runs: moto tags the new object through
#: the code of PutObjectTagging, which raises "Object Tags Added"; on AWS only PutObjectTagging does.
_CREATING_OBJECT = threading.local()
#: Set while moto deletes an object: its own removal event is dropped and ours, shaped as AWS sends
#: it (a delete marker or a version, with their version id), is published instead.
_DELETING_OBJECT = threading.local()


def _flagged(flag: threading.local, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def flagged(*args: Any, **kwargs: Any) -> Any:
        flag.active = True
        try:
            return method(*args, **kwargs)
        finally:
            flag.active = False

    return flagged


def _publish_s3_event(account_id: str, bucket: Any, event: dict[str, Any]) -> None:
    """An S3 event to the rules of the default bus, when the bucket sends events to EventBridge."""
    configuration = bucket.notification_configuration
    if configuration is None or configuration.event_bridge is None:
        return
    default_bus = events_models.events_backends[account_id][bucket.region_name].event_buses.get("default")
    for rule in list(default_bus.rules.values()) if default_bus else []:
        rule.send_to_targets(event)  # type: ignore[arg-type]


def install_eventbridge_delivery(sequencer: Callable[[], str]) -> None:
    """Deliver S3 events through EventBridge as AWS does; ``sequencer`` mints increasing S3 sequencers."""

    def send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        if event_name == s3_notifications.S3NotificationEvent.OBJECT_TAGGING_PUT_EVENT and getattr(
            _CREATING_OBJECT, "active", False
        ):
            return
        if getattr(_DELETING_OBJECT, "active", False):
            return
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
        event["detail-type"] = s3_notifications._detail_type(event_name)
        _publish_s3_event(account_id, bucket, event)

    def delete_object(
        self: S3Backend, bucket_name: str, key_name: str, version_id: str | None = None, bypass: bool = False
    ) -> tuple[bool, dict[str, Any]]:
        bucket = self.get_bucket(bucket_name)
        deleted, meta = _DELETE_OBJECT(self, bucket_name, key_name, version_id, bypass)
        if deleted:
            event = build_object_deleted_event(
                bucket=bucket.name,
                key=key_name,
                sequencer=sequencer(),
                deletion_type=DeletionType.PERMANENTLY_DELETED
                if version_id or not bucket.is_versioned
                else DeletionType.DELETE_MARKER_CREATED,
                version_id=meta.get("version-id"),
                region=bucket.region_name,
                account=self.account_id,
            )
            _publish_s3_event(self.account_id, bucket, event)
        return deleted, meta

    Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign]
    s3_notifications._send_event_bridge_message = send_event_bridge_message
    for name in ("put_object", "copy_object"):
        handler = getattr(S3Response, name)
        if not hasattr(handler, "__wrapped__"):
            setattr(S3Response, name, _flagged(_CREATING_OBJECT, handler))
    if S3Backend.delete_object is _DELETE_OBJECT:
        S3Backend.delete_object = _flagged(_DELETING_OBJECT, delete_object)  # type: ignore[method-assign]


_DELETE_OBJECT = S3Backend.delete_object
#: moto mutates a table's items, or a bucket's keys, without a lock: DynamoDB applies each
#: conditional write and transaction atomically, moto checks the condition and then writes (two
#: threads could both pass it), and a ListObjectVersions that runs while another thread deletes a
#: key's last version fails with a TypeError. One lock per backend serialises these operations.
_SERIALISED: Final = {
    DynamoDBBackend: ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"),
    S3Backend: ("put_object", "delete_object", "delete_objects", "list_object_versions", "list_objects"),
}


def serialise_mutations() -> None:
    """Make moto's DynamoDB writes and S3 key changes atomic, as the services are."""
    for backend, names in _SERIALISED.items():
        lock = threading.RLock()
        for name in names:
            method = getattr(backend, name)
            if getattr(method, "__serialised__", False):
                continue

            def serialised(
                *args: Any, __method: Callable[..., Any] = method, __lock: Any = lock, **kwargs: Any
            ) -> Any:
                with __lock:
                    return __method(*args, **kwargs)

            wrapped = functools.wraps(method)(serialised)
            wrapped.__serialised__ = True  # type: ignore[attr-defined]
            setattr(backend, name, wrapped)


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


_JSON_SCALARS = (str, int, float, bool, type(None))


def copy_json_tree(value: Any) -> Any:
    """``copy.deepcopy`` for JSON documents (dicts, lists, scalars); anything else goes to deepcopy."""
    kind = type(value)
    if kind is dict:
        return {key: copy_json_tree(item) for key, item in value.items()}
    if kind is list:
        return [copy_json_tree(item) for item in value]
    if kind in _JSON_SCALARS:
        return value
    return copy.deepcopy(value)


#: What the ASL interpreter's modules see as ``copy``: the standard module with a JSON-tree deepcopy.
_ASL_COPY_MODULE = types.SimpleNamespace(**{**vars(copy), "deepcopy": copy_json_tree})

#: Modules of the ASL interpreter that deep-copy state on every step.
_ASL_COPYING_MODULES = (
    "moto.stepfunctions.parser.asl.eval.states",
    "moto.stepfunctions.parser.asl.eval.environment",
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.common.path.result_path",
    "moto.stepfunctions.parser.asl.component.state.exec.execute_state",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service",
)

_ORIGINAL_DYNAMO_EXECUTE_RESULT = DynamoResult.execute_result


def _wire_json_default(value: Any) -> str:
    if isinstance(value, bytes):  # Binary attributes travel base64-encoded, as moto's serializer sends them
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)


def _dynamo_execute_result(self: DynamoResult, context: Any) -> Any:
    try:
        body = json.dumps(self.result, default=_wire_json_default, allow_nan=False)
    except (TypeError, ValueError):
        return _ORIGINAL_DYNAMO_EXECUTE_RESULT(self, context)
    return 200, {"Content-Type": context.serializer_class.CONTENT_TYPE}, body


_ORIGINAL_BACKEND_URLS: property = BaseBackend.urls  # type: ignore[assignment]
_URLS_BY_BACKEND_CLASS: dict[type, Any] = {}


def _backend_urls(self: BaseBackend) -> Any:
    urls = _URLS_BY_BACKEND_CLASS.get(type(self))
    if urls is None:
        urls = _URLS_BY_BACKEND_CLASS[type(self)] = _ORIGINAL_BACKEND_URLS.fget(self)  # type: ignore[misc]
    return urls


_ORIGINAL_CONDITION_PARSE = ConditionExpressionParser.parse


@dataclass(frozen=True)
class _ValueSlot:
    """Where an expression attribute value goes in a parsed condition that is kept for reuse."""

    name: str


#: (expression, names, value names and types) -> (condition with value slots, names found, values found).
_PARSED_CONDITIONS: dict[tuple[str, str, tuple[tuple[str, str], ...]], tuple[Any, list[str], list[str]]] = {}
_PARSED_CONDITIONS_LIMIT = 256


def _bind_values(node: Any, values: Mapping[str, Any]) -> Any:
    """``node`` with each value slot filled from ``values``; nodes without slots are shared, not copied."""
    if isinstance(node, AttributeValue):
        return AttributeValue(values[node.value.name]) if isinstance(node.value, _ValueSlot) else node
    if isinstance(node, (list, tuple)):
        bound = [_bind_values(child, values) for child in node]
        return node if all(new is old for new, old in zip(bound, node, strict=True)) else type(node)(bound)
    if type(node).__module__ == AttributeValue.__module__:  # the parser's Op, Func and Operand nodes
        changed = {}
        for attribute, child in vars(node).items():
            new = _bind_values(child, values)
            if new is not child:
                changed[attribute] = new
        if not changed:
            return node
        clone = copy.copy(node)
        vars(clone).update(changed)
        return clone
    return node


def _parse_condition(self: ConditionExpressionParser) -> Any:
    values = self.expression_attribute_values or {}
    if not self.condition_expression or not all(
        isinstance(value, dict) and len(value) == 1 for value in values.values()
    ):
        return _ORIGINAL_CONDITION_PARSE(self)
    key = (
        self.condition_expression,
        json.dumps(self.expression_attribute_names, sort_keys=True),
        tuple(sorted((name, next(iter(value))) for name, value in values.items())),
    )
    parsed = _PARSED_CONDITIONS.get(key)
    if parsed is None:
        # Parsed once with slots where the values go (the parser looks only at their types), so
        # that the next write with other values reuses the parse.
        template = ConditionExpressionParser(
            self.condition_expression,
            self.expression_attribute_names,
            {name: {kind: _ValueSlot(name)} for name, kind in key[2]},  # type: ignore[dict-item]
        )
        condition = _ORIGINAL_CONDITION_PARSE(template)
        if len(_PARSED_CONDITIONS) >= _PARSED_CONDITIONS_LIMIT:
            _PARSED_CONDITIONS.clear()
        parsed = _PARSED_CONDITIONS[key] = (
            condition,
            list(template.expr_attr_names_found),
            list(template.expr_attr_values_found),
        )
    condition, names_found, values_found = parsed
    self.expr_attr_names_found.extend(names_found)
    self.expr_attr_values_found.extend(values_found)
    return _bind_values(condition, values)


_ORIGINAL_TO_REGULAR_JSON = DynamoType.to_regular_json


def _regular_json(value: Any) -> Any:
    return value.to_regular_json() if isinstance(value, DynamoType) else copy_json_tree(value)


def _to_regular_json(self: DynamoType) -> dict[str, Any]:
    """moto's ``DynamoType.to_regular_json`` in one pass over the attribute's tree."""
    value = self.value
    if isinstance(value, dict):
        value = {key: _regular_json(nested) for key, nested in value.items()}
    elif isinstance(value, list):
        value = [_regular_json(nested) for nested in value]
    else:
        value = copy_json_tree(value)
    if self.is_binary() and isinstance(value, str):
        value = base64.b64decode(value)
    return {self.type: value}


_ORIGINAL_PROJECT = Item.project


def _project(self: Item, projection_expressions: list[list[str]]) -> Item:
    """moto's ``Item.project``, converting only the projected attributes when every path is a
    top-level name (moto converts the whole item once per path)."""
    if any(len(path) != 1 or "[" in path[0] for path in projection_expressions):
        return _ORIGINAL_PROJECT(self, projection_expressions)
    plain = {
        name: dynamo_type.deserializer.deserialize(self.attrs[name].to_regular_json())
        for name in (path[0] for path in projection_expressions)
        if name in self.attrs
    }
    return Item(self.hash_key, self.range_key, dict(dynamo_type.serializer.serialize(plain)["M"]))


_ITEM_SIZE_LIMIT = 405_000  # moto's own figure for DynamoDB's 400 KB
_ORIGINAL_LIMITED_SET = LimitedSizeDict.__setitem__


def _entry_size(key: str, value: Any) -> int:
    """What moto counts for one attribute: its name, plus its value's size."""
    return bytesize(str(key)) + (value.size() if type(value) is DynamoType else bytesize(str(value)))


def _set_within_item_limit(self: LimitedSizeDict, key: str, value: Any) -> None:
    sizes: dict[str, tuple[Any, int]] | None = self.__dict__.get("_entry_sizes")
    if sizes is None or sizes.keys() != self.keys() or any(self[k] is not v for k, (v, _) in sizes.items()):
        sizes = self.__dict__["_entry_sizes"] = {k: (v, _entry_size(k, v)) for k, v in self.items()}
    new_size = _entry_size(key, value)
    # As moto counts it: every stored attribute (a replaced one included) plus the new one.
    if sum(size for _, size in sizes.values()) + new_size > _ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    dict.__setitem__(self, key, value)
    sizes[key] = (value, new_size)


_ORIGINAL_DYNAMODB_PARSE_PARAMETERS = DynamoHandler.parse_parameters
#: Item operations: their inputs hold no timestamps, and their only binary members are the
#: attribute values "B" and "BS" (checked against botocore's model by a contract test).
_DYNAMODB_ITEM_OPERATIONS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem", "BatchWriteItem", "Query", "Scan"}
)
_BINARY_ATTRIBUTE_VALUE = re.compile(rb'"BS?"\s*:')


def _parse_dynamodb_parameters(self: DynamoHandler, request: Any) -> None:
    body = request.data
    if (
        self._get_action() not in _DYNAMODB_ITEM_OPERATIONS
        or not body
        or _BINARY_ATTRIBUTE_VALUE.search(body)
    ):
        _ORIGINAL_DYNAMODB_PARSE_PARAMETERS(self, request)
        return
    self.params = json.loads(body)


def install_speedups() -> None:
    """Remove moto's per-request and per-execution setup costs (see the module docstring)."""
    LimitedSizeDict.__setitem__ = _set_within_item_limit  # type: ignore[method-assign]
    ConditionExpressionParser.parse = _parse_condition  # type: ignore[method-assign]
    DynamoType.to_regular_json = _to_regular_json  # type: ignore[method-assign]
    Item.project = _project  # type: ignore[method-assign]
    BaseBackend.urls = property(_backend_urls)  # type: ignore[assignment,method-assign]
    original_modules = moto_backends.list_of_moto_modules
    moto_backends.list_of_moto_modules = functools.cache(lambda: tuple(original_modules()))
    moto_responses.method_names_from_class = functools.cache(moto_responses.method_names_from_class)  # type: ignore[attr-defined]
    DynamoResult.execute_result = _dynamo_execute_result  # type: ignore[method-assign,assignment]
    DynamoHandler.parse_parameters = _parse_dynamodb_parameters  # type: ignore[method-assign,assignment]
    for module_name in _ASL_COPYING_MODULES:
        module = importlib.import_module(module_name)
        if getattr(module, "copy", None) is copy:
            module.copy = _ASL_COPY_MODULE  # type: ignore[attr-defined]
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


def _invoke_lambda_task(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:  # noqa: ARG001
    """What ``lambda_eval_utils._invoke_lambda_function`` returns, without a boto3 round trip."""
    name = str(parameters["FunctionName"])
    account = parse_arn(name).account if name.startswith("arn:") else DEFAULT_ACCOUNT_ID
    response_headers: dict[str, str] = {}
    try:
        payload = lambda_backends[account][region].invoke(
            name, parameters.get("Qualifier"), parameters.get("Payload", b"{}"), {}, response_headers
        )
    except JsonRESTError as error:  # what a boto3 client would have raised
        raise ClientError(
            {
                "Error": {"Code": error.error_type, "Message": error.message},
                "ResponseMetadata": {  # type: ignore[typeddict-item]
                    "HTTPStatusCode": error.code,
                    "RequestId": str(uuid.uuid4()),
                },
            },
            "Invoke",
        ) from error
    response: dict[str, Any] = {
        "StatusCode": 200,
        "ExecutedVersion": "$LATEST",
        "Payload": lambda_eval_utils._from_payload(io.BytesIO(_as_bytes(payload or b""))),
    }
    if "x-amz-function-error" in response_headers:
        response["FunctionError"] = response_headers["x-amz-function-error"]
    return response


def _as_bytes(payload: str | bytes) -> bytes:
    return payload.encode() if isinstance(payload, str) else payload


def invoke_lambda_tasks_directly() -> None:
    """Make the ASL interpreter's ``lambda:invoke`` Tasks call moto's Lambda backend in process."""
    lambda_eval_utils._invoke_lambda_function = _invoke_lambda_task


def route_in_process_calls() -> None:
    """Dispatch this process's boto3 calls to AWS endpoints in process (see the module docstring).

    Clients must use AWS's own endpoints (no ``AWS_ENDPOINT_URL``); a call for anything moto does not
    implement is answered 404 in process, never sent to AWS.
    """
    botocore_stubber.enabled = True
    aws_channel.sign_headers_only()


def answer_aws_request(request: aws_channel.Request) -> aws_channel.Answer:
    """moto's answer to a request a sandbox forwarded (``aws_channel.forward_requests``), as moto's
    in-process hook answers this process's own calls; 404 for anything moto does not serve."""
    method, url, headers, body = request
    prepared = AWSPreparedRequest(method, url, HTTPHeaders(), body, stream_output=False)
    for name, value in headers:
        prepared.headers[name] = value.decode() if isinstance(value, bytes) else value
    answer = botocore_stubber.process_request(prepared)
    if answer is None:
        return 404, {}, f"nothing local answers {method} {url}".encode()
    status, answer_headers, answer_body = answer
    return status, dict(answer_headers), answer_body.encode() if isinstance(answer_body, str) else answer_body


def rename_identity_pool(account_id: str, region: str, current_id: str, wanted_id: str) -> None:
    """Give the Cognito identity pool ``current_id`` the id ``wanted_id`` (same region)."""
    backend = cognitoidentity_backends[account_id][region]
    pool = backend.identity_pools.pop(current_id)
    pool.identity_pool_id = wanted_id
    backend.identity_pools[wanted_id] = pool
    identities = backend.pools_identities.pop(current_id)
    identities["IdentityPoolId"] = wanted_id
    backend.pools_identities[wanted_id] = identities


def prune_finished_executions(account_id: str, region: str, keep: int) -> int:
    """Forget all but the ``keep`` most recent finished executions of each state machine, and every
    finished interpreter thread; returns how many executions were dropped. Running executions are
    never touched."""
    # Threads the interpreter started and that have ended (never-started ones have no ident yet).
    TMP_THREADS[:] = [thread for thread in list(TMP_THREADS) if thread.ident is None or thread.is_alive()]
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
