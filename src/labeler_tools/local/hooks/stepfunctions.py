"""Step Functions (``moto.stepfunctions``): moto's ASL interpreter, faster, with scaled retry waits.

- The interpreter really sleeps between retries. ``install`` scales those sleeps by
  ``retry_wait_factor`` (tests use a small one) without touching the intervals written in the ASL.
- A ``lambda:invoke`` Task calls Lambda through a boto3 client, which serialises, signs and re-parses
  every invocation. The Task's payload goes to moto's Lambda backend directly instead
  (``lambda_eval_utils._invoke_lambda_function``): same function lookup, same Lambda runtime, same
  answer shape (``StatusCode``, ``FunctionError``, parsed ``Payload``); a Lambda API error (unknown
  function) becomes the ClientError the interpreter turns into ``Lambda.<Code>`` as before.
- Speed (measured in ``make bench``): the interpreter re-parses the definition with ANTLR for every
  execution (``ExecutionWorker._get_evaluation_entrypoint``: parsed once per definition; evaluation
  state lives in each execution's Environment, not in the parsed tree), builds a new boto3 client
  for every task (``boto_client_for``: one client per service and region), compiles every JSONPath
  with a fresh yacc parser each time it evaluates it (``json_path.parse``: cached), and deep-copies
  the state's JSON at every step (``copy.deepcopy``, a large share of its CPU): a copy
  specialised for JSON trees does the same for a fraction of the cost.
- moto keeps every execution, with its history and worker, for the life of the process, and the
  interpreter keeps every thread it ever started (several per execution) in a module list.
  ``prune_finished_executions`` drops all but the newest finished executions and every finished
  interpreter thread, so what a long-running local stack holds beyond its data stays bounded. It
  keeps a finished execution that a running ``states:startExecution.sync`` Task has not yet seen end.

Distributed Map and ``states:startExecution`` (what a backfill needs; AWS's behaviour in brackets):

- ItemReader ``s3:listObjectsV2`` makes one call and reads ``Contents`` (``ResourceEvalS3``): over
  1,000 objects are cut to the first page, and an empty listing fails with KeyError 'Contents'
  [every page is read; no objects: no items]. The handler follows ``NextContinuationToken``.
- An integer ``ToleratedFailurePercentage`` is a syntax error in moto's grammar (only ``5.0``
  parses) [any JSON number]: definitions are parsed with such integers written as floats.
- Failed items never fail the Map Run [it fails with ``States.ExceedToleratedFailureThreshold``
  once failed + timed-out items exceed ToleratedFailureCount, or their share of all items exceeds
  ToleratedFailurePercentage; with neither set, at the first failure]. Each item's end checks the
  Map Run's thresholds (as UpdateMapRun leaves them); a zero one beside a non-zero one counts as
  not set, since moto does not record which were written.
- An item processor sees the parent's ``$$.Execution`` [each item runs as a child execution with
  its own Id, Name, Input and StartTime]: each item gets its own, named like AWS's child executions
  (``execution:<state machine>/<map run>:<uuid>``).
- A Distributed Map worker recurses once per item (``_eval_pool``): about 1,000 items per worker
  (items / MaxConcurrency) overflow the stack and the execution hangs RUNNING. The same loop, iterative.
- ListMapRuns / DescribeMapRun / UpdateMapRun read every execution's interpreter environment, which
  a just-started execution does not have yet: they fail (HTTP 500) while any execution starts.
  Executions without one are skipped, and an unknown Map Run is ResourceNotFound (moto: TypeError).
- ``states:startExecution`` passes the ASL's PascalCase parameters to boto3 unconverted (moto
  stubs LocalStack's normalisation), so every such Task fails with States.Runtime 'StateMachineArn'.
  Requests and responses are converted by botocore's Step Functions model as LocalStack does
  (``ExecutionArn``, ``Output`` ... ; timestamps as epoch milliseconds, as AWS returns them).
- StartExecution without a name (the API's or a Task's) names the execution ``None``: the second
  one collides [a UUID]. A missing name becomes a UUID.
- ``.sync`` / ``.sync:2`` poll DescribeExecution every 0.5 s: a 50 ms child holds its parent
  ~0.5 s (1,500 items at MaxConcurrency 10: over a minute of sleeping). The poll also wakes when any
  execution ends, so a parent sees its child's end at once; the 0.5 s stays the upper bound.
"""

from __future__ import annotations

import copy
import datetime
import functools
import importlib
import io
import json
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable
from typing import Any, cast

import botocore.session
import jsonpath_ng
import jsonpath_ng.ext
from botocore.exceptions import ClientError
from moto.awslambda.models import lambda_backends
from moto.core.exceptions import JsonRESTError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails, ResourceNotFound
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3 import (
    ResourceEvalS3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
    DistributedItemProcessorWorker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client as asl_boto_client
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.parser.utils import TMP_THREADS, camel_to_snake_case
from moto.stepfunctions.responses import get_backend as stepfunctions_backend
from moto.utilities.arns import parse_arn

from labeler_tools.local.hooks.utilities import copy_json_tree

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


# --- Distributed Map and states:startExecution --------------------------------------------------


_ORIGINAL_LIST_OBJECTS_V2 = ResourceEvalS3._handle_list_objects_v2


def _list_objects_v2(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    """``ResourceEvalS3._handle_list_objects_v2`` over every page; an empty listing is no items."""
    s3 = ResourceEvalS3._get_s3_client(
        resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
    )
    parameters = dict(env.stack.pop())
    contents: list[Any] = []
    while True:
        response = s3.list_objects_v2(**parameters)
        contents.extend(response.get("Contents", []))
        token = response.get("NextContinuationToken")
        if not response.get("IsTruncated") or not token:
            break
        parameters["ContinuationToken"] = token
    env.stack.append(contents)


_ORIGINAL_PARSE = AmazonStateLanguageParser.parse


def _with_float_failure_percentages(definition: str) -> str:
    """``definition`` with every Map state's integer ToleratedFailurePercentage written as a float
    (the text itself when there is none, or when it is not JSON: moto then reports the error)."""
    if '"ToleratedFailurePercentage"' not in definition:
        return definition
    try:
        tree = json.loads(definition)
    except ValueError:
        return definition
    changed = False

    def visit(states: Any) -> None:
        nonlocal changed
        for state in states.values() if isinstance(states, dict) else ():
            if not isinstance(state, dict):
                continue
            percentage = state.get("ToleratedFailurePercentage")
            if state.get("Type") == "Map" and type(percentage) is int:
                state["ToleratedFailurePercentage"] = float(percentage)
                changed = True
            for processor in (state.get("ItemProcessor"), state.get("Iterator")):
                if isinstance(processor, dict):
                    visit(processor.get("States"))
            for branch in state.get("Branches") or ():
                if isinstance(branch, dict):
                    visit(branch.get("States"))

    if isinstance(tree, dict):
        visit(tree.get("States"))
    return json.dumps(tree) if changed else definition


def _parse(definition: str) -> Any:
    return _ORIGINAL_PARSE(_with_float_failure_percentages(definition))


_THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


def _threshold_exceeded(record: Any, items: int) -> bool:
    failed = int(record.item_counter.failed.get()) + int(record.item_counter.timed_out.get())
    # UpdateMapRun stores what the request held; the ASL's values are numbers already.
    count = int(record.tolerated_failure_count or 0)
    percentage = float(record.tolerated_failure_percentage or 0)
    if not count and not percentage:  # neither set: no failure is tolerated
        return failed > 0
    over_count = bool(count) and failed > count
    over_percentage = bool(percentage) and items > 0 and failed * 100 / items > percentage
    return bool(over_count or over_percentage)


_ORIGINAL_EVAL_JOB = DistributedItemProcessorWorker._eval_job


def _eval_job(self: DistributedItemProcessorWorker, env: Any, job: Any) -> None:
    """moto's item evaluation, then the Map Run's tolerated-failure check: past it, this job ends
    the run with ``States.ExceedToleratedFailureThreshold`` (the pool starts no further items)."""
    _ORIGINAL_EVAL_JOB(self, env=env, job=job)
    if isinstance(job.job_output, Exception):
        return
    if _threshold_exceeded(self._map_run_record, self._job_pool._jobs_number):
        error = StatesErrorNameType.StatesExceedToleratedFailureThreshold.to_name()
        job.job_output = FailureEventException(
            FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold),
                event_type=HistoryEventType.MapRunFailed,
                event_details=cast(
                    EventDetails,
                    {
                        "mapRunFailedEventDetails": MapRunFailedEventDetails(
                            error=error, cause=_THRESHOLD_CAUSE
                        )
                    },
                ),
            )
        )


_ORIGINAL_EVAL_INPUT = DistributedItemProcessorWorker._eval_input


def _eval_input(self: DistributedItemProcessorWorker, env_frame: Any) -> None:
    """moto's ItemSelector/Parameters step (in the parent's context, as on AWS), then the item's
    own ``$$.Execution``, as its child execution has on AWS."""
    _ORIGINAL_EVAL_INPUT(self, env_frame=env_frame)
    context = env_frame.states.context_object.context_object_data
    name = str(uuid.uuid4())
    map_state_machine = self._map_run_record.map_state_machine_arn
    context["Execution"] = {
        **context["Execution"],
        "Id": f"{map_state_machine.replace(':stateMachine:', ':execution:', 1)}:{name}",
        "Name": name,
        "Input": copy_json_tree(env_frame.states.get_input()),
        "StartTime": datetime.datetime.now(tz=datetime.UTC).isoformat(),
    }


_ORIGINAL_EVAL_POOL = DistributedItemProcessorWorker._eval_pool


def _eval_pool(self: DistributedItemProcessorWorker, job: Any, worker_frame: Any) -> None:
    """``DistributedItemProcessorWorker._eval_pool`` as a loop instead of one recursion per item."""
    while job is not None:
        job_frame = worker_frame.open_inner_frame()
        self._eval_job(env=job_frame, job=job)
        worker_frame.delete_frame(job_frame)
        if isinstance(job.job_output, Exception) or self.stopped():  # type: ignore[no-untyped-call]
            self._env.delete_frame(worker_frame)
            self._job_pool.close_job(job)
            return
        next_job = self._job_pool.next_job()
        if next_job is None:
            # The frame is closed before the job (the Map state awaits jobs, not workers).
            self._env.delete_frame(worker_frame)
            self._job_pool.close_job(job)
            return
        self._job_pool.close_job(job)
        job = next_job
    self._env.delete_frame(worker_frame)


_ORIGINAL_MAP_RUN_METHODS = (
    StepFunctionsParserBackend.describe_map_run,
    StepFunctionsParserBackend.list_map_runs,
    StepFunctionsParserBackend.update_map_run,
)


def _map_run_pool(execution: Any) -> Any:
    """The execution's map runs, or None while its interpreter has not set up its environment."""
    worker = execution.exec_worker
    env = None if worker is None else worker.env
    return None if env is None else env.map_run_record_pool_manager


def _describe_map_run(self: StepFunctionsParserBackend, map_run_arn: str) -> dict[str, Any]:
    for execution in self._get_executions():
        pool = _map_run_pool(execution)
        record = None if pool is None else pool.get(map_run_arn)
        if record is not None:
            return dict(record.describe())
    raise ResourceNotFound(f"Resource not found: '{map_run_arn}'", exception_type="ResourceNotFound")


def _list_map_runs(self: StepFunctionsParserBackend, execution_arn: str) -> dict[str, Any]:
    pool = _map_run_pool(self.describe_execution(execution_arn=execution_arn))
    records = [] if pool is None else pool.get_all()
    return {"mapRuns": [record.list_item() for record in records]}


def _update_map_run(
    self: StepFunctionsParserBackend,
    map_run_arn: str,
    max_concurrency: int,
    tolerated_failure_count: str,
    tolerated_failure_percentage: str,
) -> None:
    for execution in self._get_executions():
        pool = _map_run_pool(execution)
        record = None if pool is None else pool.get(map_run_arn)
        if record is not None:
            record.update(
                max_concurrency=max_concurrency,
                tolerated_failure_count=tolerated_failure_count,
                tolerated_failure_percentage=tolerated_failure_percentage,
            )
            return
    raise ResourceNotFound(f"Resource not found: '{map_run_arn}'", exception_type="ResourceNotFound")


@functools.cache
def _sfn_operation(action: str) -> Any:
    """botocore's model of the Step Functions operation ``action`` (snake case: start_execution)."""
    model = botocore.session.get_session().get_service_model("stepfunctions")
    names = {camel_to_snake_case(name): name for name in model.operation_names}
    return model.operation_model(names[action])


_ORIGINAL_SFN_NORMALISE_PARAMETERS = StateTaskServiceSfn._normalise_parameters


def _normalise_sfn_parameters(
    self: StateTaskServiceSfn,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """moto's (Input as a JSON string), then the ASL's names as boto3's (StateMachineArn ->
    stateMachineArn), by the operation's input shape as LocalStack does."""
    _ORIGINAL_SFN_NORMALISE_PARAMETERS(self, parameters, boto_service_name, service_action_name)
    operation = _sfn_operation(self._get_boto_service_action(service_action_name))
    if operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _epoch_millis(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {key: _epoch_millis(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_epoch_millis(item) for item in value]
    return value


def _normalise_sfn_response(
    self: StateTaskServiceSfn,
    response: Any,
    boto_service_name: str | None = None,  # noqa: ARG001 - moto's signature
    service_action_name: str | None = None,
) -> None:
    """boto3's answer as the Task's result on AWS: PascalCase names (executionArn -> ExecutionArn)
    and timestamps as epoch milliseconds."""
    if not isinstance(response, dict):
        return
    operation = _sfn_operation(self._get_boto_service_action(service_action_name))
    if operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)
    for key, value in list(response.items()):
        response[key] = _epoch_millis(value)


_ORIGINAL_START_EXECUTION = StepFunctionsParserBackend.start_execution


def _start_execution(
    self: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: str | None = None,
    *rest: Any,
    **keywords: Any,
) -> Any:
    """moto's StartExecution, named with a UUID when no name is given, as on AWS."""
    return _ORIGINAL_START_EXECUTION(self, state_machine_arn, name or str(uuid.uuid4()), *rest, **keywords)


#: Child execution ARN -> the environment of the running ``.sync`` Task waiting for it to end.
_AWAITED: dict[str, Any] = {}
_AWAITED_LOCK = threading.Lock()


def _forget_awaited(execution_arn: str) -> None:
    with _AWAITED_LOCK:
        _AWAITED.pop(execution_arn, None)


def _awaiting(build: Callable[..., Any]) -> Callable[..., Any]:
    """``build`` (a ``.sync`` resolver builder) that records which child the Task waits for until
    the resolver has seen it end, so that pruning keeps the child's description till then."""

    def build_resolver(self: StateTaskServiceSfn, env: Any, **arguments: Any) -> Any:
        child = str(env.stack[-1]["ExecutionArn"])
        resolver = build(self, env=env, **arguments)
        with _AWAITED_LOCK:
            _AWAITED[child] = env

        def resolve() -> Any:
            try:
                outcome = resolver()
            except BaseException:
                _forget_awaited(child)
                raise
            if outcome is not None:
                _forget_awaited(child)
            return outcome

        return resolve

    build_resolver.__wrapped__ = build  # type: ignore[attr-defined]
    return build_resolver


#: Notified whenever an execution ends; ``.sync`` polls wait on it instead of sleeping blindly.
_EXECUTION_ENDED = threading.Condition()
_ORIGINAL_TERMINATED = BaseExecutionWorkerCommunication.terminated


def _terminated(self: BaseExecutionWorkerCommunication) -> None:
    _ORIGINAL_TERMINATED(self)
    with _EXECUTION_ENDED:
        _EXECUTION_ENDED.notify_all()


def _sleep_until_an_execution_ends(seconds: float) -> None:
    with _EXECUTION_ENDED:
        _EXECUTION_ENDED.wait(timeout=seconds)


def _install_distributed_map_hooks() -> None:
    ResourceEvalS3._handle_list_objects_v2 = staticmethod(_list_objects_v2)  # type: ignore[method-assign]
    AmazonStateLanguageParser.parse = staticmethod(_parse)  # type: ignore[method-assign]
    DistributedItemProcessorWorker._eval_job = _eval_job  # type: ignore[method-assign]
    DistributedItemProcessorWorker._eval_input = _eval_input  # type: ignore[method-assign,assignment]
    DistributedItemProcessorWorker._eval_pool = _eval_pool  # type: ignore[method-assign]
    StepFunctionsParserBackend.describe_map_run = _describe_map_run  # type: ignore[method-assign]
    StepFunctionsParserBackend.list_map_runs = _list_map_runs  # type: ignore[method-assign]
    StepFunctionsParserBackend.update_map_run = _update_map_run  # type: ignore[method-assign]
    StepFunctionsParserBackend.start_execution = _start_execution  # type: ignore[method-assign]
    StateTaskServiceSfn._normalise_parameters = _normalise_sfn_parameters  # type: ignore[method-assign]
    StateTaskServiceSfn._normalise_response = _normalise_sfn_response  # type: ignore[method-assign,assignment]
    for name in ("_build_sync_resolver", "_build_sync2_resolver"):
        original = vars(StateTaskServiceSfn)[name]
        setattr(StateTaskServiceSfn, name, _awaiting(getattr(original, "__wrapped__", original)))
    BaseExecutionWorkerCommunication.terminated = _terminated  # type: ignore[method-assign]
    state_task_service_callback.time = types.SimpleNamespace(sleep=_sleep_until_an_execution_ends)  # type: ignore[assignment,attr-defined]


def install(retry_wait_factor: float) -> None:
    """Speed up moto's ASL interpreter, hand its Lambda Tasks to moto's Lambda backend directly,
    scale its retry sleeps by ``retry_wait_factor`` (1.0: real waits), and close its Distributed Map
    and ``states:startExecution`` gaps; see the module docstring."""
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
    lambda_eval_utils._invoke_lambda_function = _invoke_lambda_task
    retrier_decl.time = types.SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * retry_wait_factor))  # type: ignore[assignment,attr-defined]
    _install_distributed_map_hooks()


def prune_finished_executions(account_id: str, region: str, keep: int) -> int:
    """Forget all but the ``keep`` most recent finished executions of each state machine, and every
    finished interpreter thread; returns how many executions were dropped. Running executions are
    never touched, nor a finished one whose end a running ``.sync`` Task has not yet seen."""
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
        awaited = _still_awaited()
        for execution in finished[: max(len(finished) - keep, 0)]:
            if execution.execution_arn in awaited:  # a running .sync Task has yet to see it end
                continue
            state_machine.executions.remove(execution)  # remove() is safe beside a concurrent append
            dropped += 1
    return dropped


def _still_awaited() -> set[str]:
    """Child executions that running ``.sync`` Tasks wait for; forgets those of ended parents."""
    with _AWAITED_LOCK:
        for child, env in list(_AWAITED.items()):
            if not env.is_running():
                del _AWAITED[child]
        return set(_AWAITED)
