"""Contract tests for labeler.local.moto_hooks: if a moto upgrade moves what a hook replaces, fail here."""

from __future__ import annotations

import inspect
import json
from importlib.metadata import version

import pytest
from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from labeler.local.provision import StackOutputs
from labeler.local.server import LocalAws
from tests.conftest import NAMES

pytestmark = pytest.mark.integration


def test_moto_is_the_version_the_hooks_were_written_against() -> None:
    assert version("moto") == "5.2.5", (
        "moto changed: re-check labeler/local/moto_hooks.py, then update this pin"
    )


def test_retry_sleep_is_still_a_module_level_time_sleep_in_moto() -> None:
    source = inspect.getsource(retrier_decl.RetrierDecl._eval_body)
    assert "time.sleep(interval_seconds)" in source
    assert hasattr(retrier_decl, "time")


def test_invoke_runs_the_real_handler_in_process(local_aws: LocalAws, stack: StackOutputs) -> None:
    assert LambdaFunction._invoke_lambda.__module__ == "labeler.local.moto_hooks"
    response = (
        local_aws.session()
        .client("lambda")
        .invoke(
            FunctionName=NAMES.prefix + "-label",
            Payload=json.dumps({"image": {"no": "such"}}).encode(),
        )
    )
    payload = json.loads(response["Payload"].read())
    # Our handler ran: Powertools' parser rejected the payload with its own error type.
    assert response["FunctionError"] == "Handled"
    assert payload["errorType"] == "ValidationError"
    assert "image" in payload["errorMessage"]


def test_handler_exception_class_name_becomes_the_lambda_error_type(
    local_aws: LocalAws, stack: StackOutputs
) -> None:
    event = {"version": "0", "detail-type": "Object Created"}
    response = (
        local_aws.session()
        .client("lambda")
        .invoke(FunctionName=NAMES.prefix + "-validate", Payload=json.dumps(event).encode())
    )
    assert json.loads(response["Payload"].read())["errorType"] == "ValidationError"


def test_s3_still_delivers_eventbridge_events_through_the_function_we_replace(local_aws: LocalAws) -> None:
    from moto.s3 import notifications

    assert "_send_event_bridge_message(account_id, bucket, event_name, key)" in inspect.getsource(
        notifications.send_event
    )
    assert notifications._send_event_bridge_message.__module__ == "labeler.local.moto_hooks"


def test_rule_delivery_signature_is_what_the_hook_replaces() -> None:
    from labeler.local import moto_hooks

    original = inspect.signature(moto_hooks._ORIGINAL_SEND_TO_TARGETS)
    assert list(original.parameters) == ["self", "original_event", "transform_input"]
    assert "NotImplementedError" in inspect.getsource(moto_hooks._ORIGINAL_SEND_TO_TARGETS)


def test_pruning_forgets_the_oldest_finished_executions(
    local_aws: LocalAws, stack: StackOutputs, owner: str
) -> None:
    from labeler.local import moto_hooks, runner
    from labeler.samples import photo_like

    session = local_aws.session()
    sfn = session.client("stepfunctions")
    for index in range(2):
        event = runner.upload(
            session.client("s3"), stack.upload_bucket, f"uploads/{owner}/{index}.jpg", photo_like(90, 90)
        )
        runner.wait_for_execution(sfn, runner.start_execution(sfn, stack.state_machine_arn, event))
    executions = sfn.list_executions(stateMachineArn=stack.state_machine_arn, maxResults=1000)["executions"]
    oldest = min(executions, key=lambda execution: execution["startDate"])

    dropped = moto_hooks.prune_finished_executions("123456789012", "us-east-1", keep=len(executions) - 1)

    assert dropped == 1
    remaining = sfn.list_executions(stateMachineArn=stack.state_machine_arn, maxResults=1000)["executions"]
    assert len(remaining) == len(executions) - 1
    assert oldest["executionArn"] not in {execution["executionArn"] for execution in remaining}
