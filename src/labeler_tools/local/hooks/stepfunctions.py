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
  interpreter thread, so what a long-running local stack holds beyond its data stays bounded.
"""

from __future__ import annotations

import copy
import functools
import importlib
import io
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable
from typing import Any

import jsonpath_ng
import jsonpath_ng.ext
from botocore.exceptions import ClientError
from moto.awslambda.models import lambda_backends
from moto.core.exceptions import JsonRESTError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client as asl_boto_client
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.utils import TMP_THREADS
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


def install(retry_wait_factor: float) -> None:
    """Speed up moto's ASL interpreter, hand its Lambda Tasks to moto's Lambda backend directly, and
    scale its retry sleeps by ``retry_wait_factor`` (1.0: real waits); see the module docstring."""
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
