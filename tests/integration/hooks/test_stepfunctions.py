"""Contract tests for labeler_tools.local.hooks.stepfunctions: a moto upgrade that moves a piece of the
ASL interpreter we replace fails here."""

from __future__ import annotations

import inspect
import json
import threading
import time
import types
import uuid
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
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
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from labeler_tools.deployment import LocalResources
from labeler_tools.local.server import LocalAws
from tests.conftest import NAMES

pytestmark = pytest.mark.integration


def test_retry_sleep_is_still_a_module_level_time_sleep_in_moto() -> None:
    source = inspect.getsource(retrier_decl.RetrierDecl._eval_body)
    assert "time.sleep(interval_seconds)" in source
    assert hasattr(retrier_decl, "time")


def test_pruning_forgets_the_oldest_finished_executions(
    local_aws: LocalAws, stack: LocalResources, owner: str
) -> None:
    from moto.stepfunctions.parser.utils import TMP_THREADS

    from labeler_tools.local import runner
    from labeler_tools.local.hooks import stepfunctions
    from labeler_tools.samples import photo_like

    session = local_aws.session()
    sfn = session.client("stepfunctions")
    for index in range(2):
        event = runner.upload(
            session.client("s3"), stack.upload_bucket, f"uploads/{owner}/{index}.jpg", photo_like(90, 90)
        )
        runner.wait_for_execution(sfn, runner.start_execution(sfn, stack.state_machine_arn, event))
    executions = sfn.list_executions(stateMachineArn=stack.state_machine_arn, maxResults=1000)["executions"]
    oldest = min(executions, key=lambda execution: execution["startDate"])
    # the interpreter's threads that had ended by now (a thread still ending may outlive the prune)
    ended = [thread for thread in TMP_THREADS if thread.ident is not None and not thread.is_alive()]
    assert ended  # the two executions above left theirs behind

    dropped = stepfunctions.prune_finished_executions("123456789012", "us-east-1", keep=len(executions) - 1)

    assert dropped == 1
    assert not [thread for thread in ended if thread in TMP_THREADS]
    remaining = sfn.list_executions(stateMachineArn=stack.state_machine_arn, maxResults=1000)["executions"]
    assert len(remaining) == len(executions) - 1
    assert oldest["executionArn"] not in {execution["executionArn"] for execution in remaining}


def test_lambda_tasks_reach_the_backend_directly_with_the_answers_boto3_would_give(
    local_aws: LocalAws, stack: LocalResources
) -> None:
    from botocore.exceptions import ClientError

    from labeler_tools.local.hooks import stepfunctions

    assert lambda_eval_utils._invoke_lambda_function is stepfunctions._invoke_lambda_task
    label_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{NAMES.prefix}-label"

    failed = stepfunctions._invoke_lambda_task(
        {"FunctionName": label_arn, "Payload": b'{"image": 1}'}, "us-east-1", None
    )
    assert (failed["StatusCode"], failed["FunctionError"]) == (200, "Handled")
    assert failed["Payload"]["errorType"] == "ValidationError"  # parsed, as the interpreter expects

    with pytest.raises(ClientError) as raised:
        stepfunctions._invoke_lambda_task(
            {"FunctionName": label_arn + "-missing", "Payload": b"{}"}, "us-east-1", None
        )
    assert (
        raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    )  # -> Lambda.ResourceNotFound...


# --- Distributed Map and states:startExecution (what a backfill workflow needs) -----------------

_PROCESSOR_CONFIG = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}


def _machine(sfn: Any, definition: dict[str, Any]) -> str:
    role = "arn:aws:iam::123456789012:role/test-labeler-states"
    name = f"hooks-{uuid.uuid4().hex[:12]}"
    return str(
        sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)[
            "stateMachineArn"
        ]
    )


def _run(sfn: Any, state_machine_arn: str, execution_input: Any, timeout_s: float = 60) -> dict[str, Any]:
    execution_arn = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=uuid.uuid4().hex, input=json.dumps(execution_input)
    )["executionArn"]
    deadline = time.monotonic() + timeout_s
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still running after {timeout_s}s"
        time.sleep(0.02)
    return dict(described)


def _distributed_map(processor_states: dict[str, Any], start_at: str, **fields: Any) -> dict[str, Any]:
    return {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": _PROCESSOR_CONFIG,
                    "StartAt": start_at,
                    "States": processor_states,
                },
                "End": True,
                **fields,
            }
        },
    }


_PASS = {"P": {"Type": "Pass", "End": True}}


def test_the_item_reader_still_lists_one_page_and_reads_contents_unguarded() -> None:
    from labeler_tools.local.hooks import stepfunctions

    source = inspect.getsource(stepfunctions._ORIGINAL_LIST_OBJECTS_V2)
    assert 'response["Contents"]' in source
    assert "ContinuationToken" not in source
    assert ResourceEvalS3._HANDLER_REFLECTION_PREFIX == "_handle_"  # how the handler is found
    assert ResourceEvalS3._handle_list_objects_v2 is stepfunctions._list_objects_v2


def test_the_item_reader_lists_every_page_and_an_empty_listing_is_no_items(
    local_aws: LocalAws, stack: LocalResources
) -> None:
    session = local_aws.session()
    s3, sfn = session.client("s3"), session.client("stepfunctions")
    prefix = f"hooks-listing/{uuid.uuid4().hex}/"
    for index in range(1005):
        s3.put_object(Bucket=stack.upload_bucket, Key=f"{prefix}{index:04d}", Body=b"x")
    reader: dict[str, Any] = {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": stack.upload_bucket},
    }
    selector = {"Key.$": "$$.Map.Item.Value.Key", "Size.$": "$$.Map.Item.Value.Size"}
    machine = _machine(
        sfn,
        _distributed_map(
            _PASS,
            "P",
            ItemReader={**reader, "Parameters": {**reader["Parameters"], "Prefix.$": "$.prefix"}},
            ItemSelector=selector,
            MaxConcurrency=10,
        ),
    )

    listed = _run(sfn, machine, {"prefix": prefix})
    empty = _run(sfn, machine, {"prefix": f"{prefix}nothing-here/"})

    assert listed["status"] == "SUCCEEDED"
    items = json.loads(listed["output"])
    assert [item["Key"] for item in items] == [f"{prefix}{index:04d}" for index in range(1005)]
    assert (empty["status"], json.loads(empty["output"])) == ("SUCCEEDED", [])


def test_moto_still_rejects_an_integer_tolerated_failure_percentage() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import ASLParserException

    from labeler_tools.local.hooks import stepfunctions

    assert AmazonStateLanguageParser.parse is stepfunctions._parse
    definition = _distributed_map(_PASS, "P", ToleratedFailurePercentage=5)
    with pytest.raises(ASLParserException):
        stepfunctions._ORIGINAL_PARSE(json.dumps(definition))
    stepfunctions._ORIGINAL_PARSE(
        json.dumps(
            {
                **definition,
                "States": {"Map": {**definition["States"]["Map"], "ToleratedFailurePercentage": 5.0}},
            }
        )
    )


def test_an_integer_tolerated_failure_percentage_parses_only_where_it_is_one() -> None:
    from labeler_tools.local.hooks import stepfunctions

    inner = _distributed_map(_PASS, "P", ToleratedFailurePercentage=5)["States"]
    outer = {
        "StartAt": "Par",
        "States": {
            "Par": {"Type": "Parallel", "Branches": [{"StartAt": "Map", "States": inner}], "End": True},
            "Keep": {"Type": "Pass", "Result": {"ToleratedFailurePercentage": 5}, "End": True},
        },
    }
    rewritten = json.loads(stepfunctions._with_float_failure_percentages(json.dumps(outer)))
    assert rewritten["States"]["Par"]["Branches"][0]["States"]["Map"]["ToleratedFailurePercentage"] == 5.0
    assert type(rewritten["States"]["Keep"]["Result"]["ToleratedFailurePercentage"]) is int
    untouched = json.dumps(_PASS)
    assert stepfunctions._with_float_failure_percentages(untouched) is untouched


def test_moto_still_never_fails_a_map_run_for_failed_items() -> None:
    from labeler_tools.local.hooks import stepfunctions

    source = inspect.getsource(stepfunctions._ORIGINAL_EVAL_JOB)
    assert "self._map_run_record.item_counter.failed.count()" in source
    assert "job_output = None" in source
    assert "tolerated" not in source.lower()
    assert "self._eval_job(env=job_frame, job=job)" in inspect.getsource(stepfunctions._ORIGINAL_EVAL_POOL)
    assert DistributedItemProcessorWorker._eval_job is stepfunctions._eval_job


@pytest.mark.parametrize(
    ("tolerance", "status", "error"),
    [
        ({}, "FAILED", "States.ExceedToleratedFailureThreshold"),
        ({"ToleratedFailurePercentage": 10}, "FAILED", "States.ExceedToleratedFailureThreshold"),
        ({"ToleratedFailurePercentage": 20}, "SUCCEEDED", None),
        ({"ToleratedFailureCount": 1}, "FAILED", "States.ExceedToleratedFailureThreshold"),
        ({"ToleratedFailureCount": 2}, "SUCCEEDED", None),
    ],
)
def test_failed_items_past_the_tolerated_threshold_fail_the_map_run(
    local_aws: LocalAws, tolerance: dict[str, Any], status: str, error: str | None
) -> None:
    sfn = local_aws.session().client("stepfunctions")
    states = {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Fail"}],
            "Default": "Done",
        },
        "Fail": {"Type": "Fail", "Error": "ItemFailed", "Cause": "test"},
        "Done": {"Type": "Pass", "End": True},
    }
    machine = _machine(
        sfn, _distributed_map(states, "Check", ItemsPath="$.items", MaxConcurrency=1, **tolerance)
    )
    items = [{"fail": index in (3, 7)} for index in range(10)]  # 2 of 10 fail: 20%

    described = _run(sfn, machine, {"items": items})

    assert (described["status"], described.get("error")) == (status, error)
    map_run = sfn.list_map_runs(executionArn=described["executionArn"])["mapRuns"][0]["mapRunArn"]
    assert sfn.describe_map_run(mapRunArn=map_run)["status"] == status


def test_each_item_runs_with_its_own_execution_context(local_aws: LocalAws) -> None:
    sfn = local_aws.session().client("stepfunctions")
    states = {
        "P": {
            "Type": "Pass",
            "Parameters": {
                "id.$": "$$.Execution.Id",
                "name.$": "$$.Execution.Name",
                "input.$": "$$.Execution.Input",
            },
            "End": True,
        }
    }
    machine = _machine(
        sfn,
        _distributed_map(
            states,
            "P",
            ItemsPath="$.items",
            ItemSelector={"value.$": "$$.Map.Item.Value", "parent.$": "$$.Execution.Name"},
        ),
    )

    described = _run(sfn, machine, {"items": ["a", "b", "c"]})

    outputs = json.loads(described["output"])
    parent = described["name"]
    assert [output["input"] for output in outputs] == [{"value": v, "parent": parent} for v in "abc"]
    assert len({output["name"] for output in outputs}) == 3
    child_prefix = machine.replace(":stateMachine:", ":execution:") + "/"
    for output in outputs:
        assert output["id"].startswith(child_prefix)
        assert output["id"].endswith(":" + output["name"])


def test_moto_still_recurses_once_per_item(local_aws: LocalAws) -> None:
    from labeler_tools.local.hooks import stepfunctions

    source = inspect.getsource(stepfunctions._ORIGINAL_EVAL_POOL)
    assert "self._eval_pool(job=next_job, worker_frame=worker_frame)" in source
    assert DistributedItemProcessorWorker._eval_pool is stepfunctions._eval_pool

    sfn = local_aws.session().client("stepfunctions")
    machine = _machine(sfn, _distributed_map(_PASS, "P", ItemsPath="$.items", MaxConcurrency=1))
    described = _run(sfn, machine, {"items": list(range(1500))})  # moto alone: RecursionError, hangs
    assert (described["status"], len(json.loads(described["output"]))) == ("SUCCEEDED", 1500)


def test_moto_still_reads_every_executions_environment_for_map_runs() -> None:
    from labeler_tools.local.hooks import stepfunctions

    for original in stepfunctions._ORIGINAL_MAP_RUN_METHODS:
        assert "execution.exec_worker.env.map_run_record_pool_manager" in inspect.getsource(original)


def test_map_runs_answer_while_an_execution_has_not_set_up_yet(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    sfn = local_aws.session().client("stepfunctions")
    mapped = _run(sfn, _machine(sfn, _distributed_map(_PASS, "P", ItemsPath="$.items")), {"items": [1]})
    map_run = sfn.list_map_runs(executionArn=mapped["executionArn"])["mapRuns"][0]["mapRunArn"]
    monkeypatch.setattr(ExecutionWorker, "start", lambda _self: None)  # started, no environment yet
    pending = sfn.start_execution(
        stateMachineArn=_machine(sfn, {"StartAt": "P", "States": _PASS}), name="pending", input="{}"
    )
    monkeypatch.undo()

    assert sfn.list_map_runs(executionArn=pending["executionArn"])["mapRuns"] == []
    assert sfn.describe_map_run(mapRunArn=map_run)["itemCounts"]["succeeded"] == 1
    sfn.update_map_run(mapRunArn=map_run, maxConcurrency=3)
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_map_run(mapRunArn=map_run + "-missing")


def test_moto_still_passes_start_execution_parameters_unconverted() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    from labeler_tools.local.hooks import stepfunctions

    for stub in (StateTaskService._normalise_parameters, StateTaskService._normalise_response):
        assert inspect.getsource(stub).rstrip().endswith("pass")
    original = inspect.getsource(stepfunctions._ORIGINAL_SFN_NORMALISE_PARAMETERS)
    assert "super()._normalise_parameters(" in original
    for name in ("_build_sync_resolver", "_build_sync2_resolver"):
        wrapped = getattr(StateTaskServiceSfn, name).__wrapped__
        assert 'submission_output["ExecutionArn"]' in inspect.getsource(wrapped)
    assert StateTaskServiceSfn._normalise_response is stepfunctions._normalise_sfn_response


def test_start_execution_sync_2_answers_as_on_aws(local_aws: LocalAws) -> None:
    sfn = local_aws.session().client("stepfunctions")
    child = _machine(
        sfn,
        {
            "StartAt": "Check",
            "States": {
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Fail"}],
                    "Default": "Done",
                },
                "Fail": {"Type": "Fail", "Error": "ChildFailed", "Cause": "asked to"},
                "Done": {"Type": "Pass", "Result": {"labelled": True}, "End": True},
            },
        },
    )
    start = {"StateMachineArn": child, "Name.$": "$.name", "Input": {"fail.$": "$.fail"}}
    parent = _machine(
        sfn,
        {
            "StartAt": "Run",
            "States": {
                "Run": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": start,
                    "Next": "Start",
                },
                "Start": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution",
                    "Parameters": {
                        **start,
                        "Name.$": "States.Format('{}-again', $.Name)",
                        "Input": {"fail": False},
                    },
                    "ResultPath": "$.again",
                    "End": True,
                },
            },
        },
    )
    name = uuid.uuid4().hex

    succeeded = _run(sfn, parent, {"name": name, "fail": False})
    failed = _run(sfn, parent, {"name": name + "-bad", "fail": True})

    assert succeeded["status"] == "SUCCEEDED", succeeded
    output = json.loads(succeeded["output"])
    assert output["Output"] == {"labelled": True}  # parsed JSON with :2
    assert output["Input"] == {"fail": False}
    assert (output["Status"], output["Name"]) == ("SUCCEEDED", name)
    assert output["ExecutionArn"] == child.replace(":stateMachine:", ":execution:") + ":" + name
    assert isinstance(output["StartDate"], int) and output["StopDate"] >= output["StartDate"]  # epoch ms
    assert set(output["again"]) == {"ExecutionArn", "StartDate"}
    assert (failed["status"], failed["error"]) == ("FAILED", "States.TaskFailed")
    cause = json.loads(failed["cause"])
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "ChildFailed", "asked to")


def test_sync_polls_still_sleep_half_a_second_between_describes() -> None:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    StateTaskServiceCallback = state_task_service_callback.StateTaskServiceCallback

    assert "time.sleep(_DELAY_SECONDS_SYNC_CONDITION_CHECK)" in inspect.getsource(
        StateTaskServiceCallback._eval_sync
    )
    assert state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK == 0.5
    assert "self._execution_communication.terminated()" in inspect.getsource(ExecutionWorker._execution_logic)


def test_a_sync_poll_wakes_when_an_execution_ends(local_aws: LocalAws) -> None:
    sfn = local_aws.session().client("stepfunctions")
    machine = _machine(sfn, {"StartAt": "P", "States": _PASS})
    woke: list[float] = []

    def poll() -> None:
        started = time.monotonic()
        state_task_service_callback.time.sleep(30)  # type: ignore[attr-defined]
        woke.append(time.monotonic() - started)

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.05)
    _run(sfn, machine, {})
    poller.join(timeout=10)
    assert woke and woke[0] < 10


def test_pruning_keeps_a_finished_child_until_its_sync_parent_has_seen_it_end(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.stepfunctions.responses import get_backend

    from labeler_tools.local.hooks import stepfunctions

    sfn = local_aws.session().client("stepfunctions")
    child = _machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}})
    parent = _machine(
        sfn,
        {
            "StartAt": "Run",
            "States": {
                "Run": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {"StateMachineArn": child, "Input": {}},
                    "End": True,
                }
            },
        },
    )
    polling, release = threading.Event(), threading.Event()

    def held_poll(seconds: float) -> None:  # the parent's poll waits until the test releases it
        polling.set()
        release.wait(30)

    monkeypatch.setattr(state_task_service_callback, "time", types.SimpleNamespace(sleep=held_poll))
    backend = get_backend("123456789012", "us-east-1")
    only_child = [machine for machine in backend.state_machines if machine.arn == child]
    execution_arn = sfn.start_execution(stateMachineArn=parent, name="held", input="{}")["executionArn"]
    assert polling.wait(10)  # the parent saw its child running and waits
    deadline = time.monotonic() + 10
    while sfn.list_executions(stateMachineArn=child)["executions"][0]["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.02)

    with monkeypatch.context() as scope:
        scope.setattr(backend, "state_machines", only_child)
        assert stepfunctions.prune_finished_executions("123456789012", "us-east-1", keep=0) == 0
    release.set()
    deadline = time.monotonic() + 10
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.02)

    assert described["status"] == "SUCCEEDED", described
    with monkeypatch.context() as scope:
        scope.setattr(backend, "state_machines", only_child)
        assert stepfunctions.prune_finished_executions("123456789012", "us-east-1", keep=0) == 1


def test_an_execution_started_without_a_name_gets_a_uuid(local_aws: LocalAws) -> None:
    from labeler_tools.local.hooks import stepfunctions

    assert "name," in inspect.getsource(stepfunctions._ORIGINAL_START_EXECUTION)  # the ARN's last part
    sfn = local_aws.session().client("stepfunctions")
    machine = _machine(sfn, {"StartAt": "P", "States": _PASS})
    arns = [sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"] for _ in range(2)]
    names = [arn.rsplit(":", 1)[1] for arn in arns]
    assert len(set(names)) == 2
    assert all(uuid.UUID(name) for name in names)
