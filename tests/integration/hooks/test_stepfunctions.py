"""Contract tests for labeler_tools.local.hooks.stepfunctions: a moto upgrade that moves a piece of the
ASL interpreter we replace fails here."""

from __future__ import annotations

import inspect

import pytest
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

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
