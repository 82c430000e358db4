"""The AWS-only paths of the operator CLI, with botocore's Stubber standing in for AWS.

What moto cannot show: a stack resolved from its CloudFormation outputs, RedriveExecution (moto has
none), Step Functions' redrive status, and the console links.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import boto3
import pytest
from botocore.stub import ANY, Stubber
from typer.testing import CliRunner, Result

from labeler.events import build_object_created_event, execution_input
from labeler_tools.cli import app
from labeler_tools.ops import target as target_module
from labeler_tools.ops.replay import Replay, ReplayItem

REGION = "eu-west-1"
STACK = "ImageLabeler"
ACCOUNT = "111122223333"
STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Pipeline-abc"
FAILED_RUN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:Pipeline-abc:5e1c0d1e-upload"
KEY = "uploads/alice/3f2a.jpg"
OUTPUTS = {
    "SiteUrl": "https://d111.cloudfront.net",
    "UploadBucketName": "imagelabeler-uploads-1a2b",
    "UploadPrefix": "uploads/",
    "ResultsTableName": "ImageLabeler-Results-9Z",
    "StateMachineArn": STATE_MACHINE,
    "FailureTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:failures",
    "IdentityPoolId": f"{REGION}:0000",
    "DeadLetterQueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/dlq",
    "Region": REGION,
}
START = datetime(2026, 11, 26, 19, 0, tzinfo=UTC)
EVENT = build_object_created_event(
    bucket=OUTPUTS["UploadBucketName"],
    key=KEY,
    size=2048,
    etag="abc",
    sequencer="0062E99A88DC407460",
    version_id="v1",
    region=REGION,
    account=ACCOUNT,
)


class StubbedSession:
    """Stands in for boto3.Session: hands out clients whose answers a Stubber gives."""

    region_name = REGION

    def __init__(self) -> None:
        self.clients = {
            service: boto3.client(
                service, region_name=REGION, aws_access_key_id="k", aws_secret_access_key="s"
            )
            for service in ("cloudformation", "dynamodb", "stepfunctions", "s3")
        }
        self.stubbers = {service: Stubber(client) for service, client in self.clients.items()}

    def client(self, service: str, **_: Any) -> Any:
        return self.clients[service]

    def stub(self, service: str) -> Stubber:
        return self.stubbers[service]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubbedSession]:
    session = StubbedSession()

    def aws_session(profile: str | None, region: str | None) -> boto3.Session:
        assert (profile, region) == (None, REGION)  # as given on the command line
        return cast(boto3.Session, session)

    monkeypatch.setattr(target_module, "aws_session", aws_session)
    for stubber in session.stubbers.values():
        stubber.activate()
    yield session
    for stubber in session.stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def labeler(*args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--stack", STACK, "--region", REGION])


def stack_outputs(aws: StubbedSession, outputs: dict[str, str] = OUTPUTS) -> None:
    aws.stub("cloudformation").add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": STACK,
                    "CreationTime": START,
                    "StackStatus": "UPDATE_COMPLETE",
                    "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
                }
            ]
        },
        {"StackName": STACK},
    )


FAILED_ITEM: dict[str, Any] = {
    "Owner": {"S": "alice"},
    "ImageName": {"S": KEY},
    "Bucket": {"S": OUTPUTS["UploadBucketName"]},
    "Status": {"S": "FAILED"},
    "FailureStatus": {"S": "FAILED"},
    "Timestamp": {"S": "2026-11-26T19:00:05.000Z"},
    "UploadedAt": {"S": "2026-11-26T19:00:00.000Z"},
    "Size": {"N": "2048"},
    "ETag": {"S": "abc"},
    "VersionId": {"S": "v1"},
    "Sequencer": {"S": "0062E99A88DC4074600000000000000000000000"},
    "ExecutionId": {"S": FAILED_RUN},
    "ErrorCode": {"S": "LabelServiceThrottled"},
    "Error": {"S": "LabelServiceThrottled"},
}


def failed_record(aws: StubbedSession) -> None:
    aws.stub("dynamodb").add_response(
        "get_item",
        {"Item": FAILED_ITEM},
        {"TableName": OUTPUTS["ResultsTableName"], "Key": ANY, "ConsistentRead": True},
    )


def execution(aws: StubbedSession, arn: str, status: str, **extra: Any) -> None:
    aws.stub("stepfunctions").add_response(
        "describe_execution",
        {
            "executionArn": arn,
            "stateMachineArn": STATE_MACHINE,
            "name": arn.rsplit(":", 1)[1],
            "status": status,
            "startDate": START,
            "input": json.dumps(EVENT),
            **({"stopDate": START + timedelta(seconds=40)} if status != "RUNNING" else {}),
            **extra,
        },
        {"executionArn": arn},
    )


def no_execution(aws: StubbedSession, arn: str) -> None:
    aws.stub("stepfunctions").add_client_error(
        "describe_execution",
        service_error_code="ExecutionDoesNotExist",
        expected_params={"executionArn": arn},
    )


def event(number: int, seconds: float, kind: str, **details: Any) -> dict[str, Any]:
    return {"id": number, "timestamp": START + timedelta(seconds=seconds), "type": kind, **details}


def entered(name: str) -> dict[str, Any]:
    return {"stateEnteredEventDetails": {"name": name}}


def exited(name: str) -> dict[str, Any]:
    return {"stateExitedEventDetails": {"name": name}}


LAMBDA = {"resourceType": "lambda", "resource": "invoke"}
THROTTLED = {
    "taskFailedEventDetails": {
        **LAMBDA,
        "error": "LabelServiceThrottled",
        "cause": json.dumps(
            {"errorMessage": "Rekognition throttled the call", "errorType": "LabelServiceThrottled"}
        ),
    }
}


def history(aws: StubbedSession, arn: str, *events: dict[str, Any]) -> None:
    aws.stub("stepfunctions").add_response(
        "get_execution_history", {"events": list(events)}, {"executionArn": arn}
    )


def timed_out_in_label(aws: StubbedSession) -> None:
    history(
        aws,
        FAILED_RUN,
        event(1, 0, "ExecutionStarted"),
        event(2, 0.01, "TaskStateEntered", **entered("Validate")),
        event(
            3,
            0.02,
            "TaskScheduled",
            taskScheduledEventDetails={**LAMBDA, "region": REGION, "parameters": "{}"},
        ),
        event(4, 0.3, "TaskSucceeded", taskSucceededEventDetails=LAMBDA),
        event(5, 0.31, "TaskStateExited", **exited("Validate")),
        event(6, 0.32, "TaskStateEntered", **entered("Label")),
        event(
            7,
            0.33,
            "TaskScheduled",
            taskScheduledEventDetails={**LAMBDA, "region": REGION, "parameters": "{}"},
        ),
        event(8, 0.5, "TaskFailed", **THROTTLED),
        event(
            9,
            2.5,
            "TaskScheduled",
            taskScheduledEventDetails={**LAMBDA, "region": REGION, "parameters": "{}"},
        ),
        event(10, 900, "ExecutionTimedOut", executionTimedOutEventDetails={"error": "States.Timeout"}),
    )


def replay_name(previous: str) -> str:
    return f"replay-{hashlib.sha256(previous.encode()).hexdigest()[:32]}"


def replay_arn(previous: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:Pipeline-abc:{replay_name(previous)}"


def test_every_resource_comes_from_the_stack_outputs(aws: StubbedSession) -> None:
    stack_outputs(aws)
    aws.stub("dynamodb").add_response(
        "query",
        {"Items": []},
        {
            "TableName": OUTPUTS["ResultsTableName"],
            "IndexName": "FailuresByTime",
            "ScanIndexForward": False,
            "KeyConditionExpression": ANY,
            "ExpressionAttributeNames": ANY,
            "ExpressionAttributeValues": {":v0": {"S": "FAILED"}},
        },
    )

    result = labeler("list", "--status", "FAILED", "--json")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_a_record_this_cli_cannot_read_is_listed_with_what_is_wrong_and_the_rest_as_usual(
    aws: StubbedSession,
) -> None:
    newer = {**FAILED_ITEM, "ImageName": {"S": "uploads/alice/newer.jpg"}, "Status": {"S": "QUARANTINED"}}
    newer["Timestamp"] = {"S": "2026-11-26T19:00:06.000Z"}
    for _ in range(2):  # the table, then --json
        stack_outputs(aws)
        aws.stub("dynamodb").add_response(
            "scan", {"Items": [FAILED_ITEM, newer]}, {"TableName": OUTPUTS["ResultsTableName"]}
        )

    table = CliRunner().invoke(app, ["list", "--stack", STACK, "--region", REGION], env={"COLUMNS": "80"})
    listed = labeler("list", "--json")

    assert table.exit_code == 0, table.stderr
    rows = table.stdout.splitlines()[2:]
    assert len(rows) == 2 and all(len(row) <= 80 for row in rows)
    assert "QUARANTINED" in rows[0] and "unreadable: status" in rows[0]
    assert "FAILED" in rows[1] and "LabelServiceThrottled" in rows[1]
    assert listed.exit_code == 0, listed.stderr
    unreadable, failed = json.loads(listed.stdout)
    assert unreadable["key"] == "uploads/alice/newer.jpg" and unreadable["status"] == "QUARANTINED"
    assert unreadable["problem"].startswith("status: Input should be")
    assert unreadable["fields"]["error_code"] == "LabelServiceThrottled"  # every attribute, as stored
    assert (failed["key"], failed["image_name"], failed["status"]) == (KEY, KEY, "FAILED")


def test_a_stack_that_does_not_exist_is_a_one_line_error(aws: StubbedSession) -> None:
    aws.stub("cloudformation").add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {STACK} does not exist",
    )

    result = labeler("list")

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: Stack '{STACK}' not found in {REGION}. Check --stack, --region and --profile."
    )


def test_a_stack_without_the_labeler_outputs_is_refused(aws: StubbedSession) -> None:
    stack_outputs(aws, {"SiteUrl": "https://example.com", "Region": REGION})

    result = labeler("list")

    assert result.exit_code == 1
    assert "has no output ResultsTableName, StateMachineArn, UploadBucketName" in result.stderr


def test_executions_show_on_aws_has_the_timeline_and_the_console_link(aws: StubbedSession) -> None:
    stack_outputs(aws)
    execution(aws, FAILED_RUN, "TIMED_OUT", redriveCount=0, redriveStatus="REDRIVABLE")
    timed_out_in_label(aws)

    result = labeler("executions", "show", FAILED_RUN, "--json")

    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["console_url"] == (
        f"https://{REGION}.console.aws.amazon.com/states/home?region={REGION}"
        f"#/v2/executions/details/{FAILED_RUN}"
    )
    label = shown["states"][1]
    assert (label["name"], label["exited"]) == ("Label", None)
    assert [(a["error"], a["message"]) for a in label["attempts"]] == [
        ("LabelServiceThrottled", "Rekognition throttled the call"),
        ("States.Timeout", None),  # the retry the execution's time-out cut short
    ]
    assert shown["object"]["key"] == KEY
    assert shown["redrive_status"] == "REDRIVABLE"


def test_an_execution_that_stopped_inside_a_task_is_redriven_with_a_client_token(aws: StubbedSession) -> None:
    stack_outputs(aws)
    failed_record(aws)
    execution(aws, FAILED_RUN, "TIMED_OUT", redriveCount=0, redriveStatus="REDRIVABLE")
    no_execution(aws, replay_arn(FAILED_RUN))
    execution(aws, FAILED_RUN, "TIMED_OUT", redriveCount=0, redriveStatus="REDRIVABLE")
    timed_out_in_label(aws)
    token = "replay-" + hashlib.sha256(f"{FAILED_RUN}#0".encode()).hexdigest()[:32]
    aws.stub("stepfunctions").add_response(
        "redrive_execution", {"redriveDate": START}, {"executionArn": FAILED_RUN, "clientToken": token}
    )

    result = labeler("replay", "--key", KEY, "--json")

    assert result.exit_code == 0, result.stderr
    replayed = json.loads(result.stdout)
    assert replayed["summary"]["redriven"] == 1
    assert replayed["items"][0]["reason"] == "TIMED_OUT in task Label: redrive resumes there"


def test_a_failure_that_ended_in_the_fail_state_gets_a_new_execution_with_the_original_input(
    aws: StubbedSession,
) -> None:
    stack_outputs(aws)
    failed_record(aws)
    execution(aws, FAILED_RUN, "FAILED", redriveCount=0, redriveStatus="REDRIVABLE")
    no_execution(aws, replay_arn(FAILED_RUN))
    execution(aws, FAILED_RUN, "FAILED", redriveCount=0, redriveStatus="REDRIVABLE")
    history(
        aws,
        FAILED_RUN,
        event(1, 0, "ExecutionStarted"),
        event(2, 0.1, "TaskStateEntered", **entered("RecordFailure")),
        event(3, 0.2, "TaskStateExited", **exited("RecordFailure")),
        event(4, 0.3, "FailStateEntered", **entered("Failed")),
        event(5, 0.4, "ExecutionFailed", executionFailedEventDetails={"error": "LabelServiceThrottled"}),
    )
    aws.stub("stepfunctions").add_response(
        "start_execution",
        {"executionArn": replay_arn(FAILED_RUN), "startDate": START},
        # The failed run's input is the whole S3 event (recorded before the rule slimmed inputs): the
        # replay gets the slim input, without the source IP and the requester.
        {
            "stateMachineArn": STATE_MACHINE,
            "name": replay_name(FAILED_RUN),
            "input": json.dumps(execution_input(EVENT)),
        },
    )

    result = labeler("replay", "--key", KEY, "--json")

    assert result.exit_code == 0, result.stderr
    item = json.loads(result.stdout)["items"][0]
    assert (item["action"], item["execution_arn"]) == ("restart", replay_arn(FAILED_RUN))
    assert item["reason"] == "ended in the Fail state: new execution, same input"


def test_a_replay_that_is_still_running_is_not_started_again(aws: StubbedSession) -> None:
    stack_outputs(aws)
    failed_record(aws)
    execution(aws, FAILED_RUN, "FAILED")
    execution(aws, replay_arn(FAILED_RUN), "RUNNING")
    no_execution(aws, replay_arn(replay_arn(FAILED_RUN)))

    result = labeler("replay", "--key", KEY, "--json")

    assert result.exit_code == 0, result.stderr
    replayed = json.loads(result.stdout)
    summary = replayed["summary"]
    assert (summary["running"], summary["replayed"], summary["redriven"]) == (1, 0, 0)
    assert replayed["items"][0] == {
        "key": KEY,
        "action": "running",
        "reason": "a replay is RUNNING",
        "original_name": None,
        "status_before": "FAILED",
        "execution_arn": replay_arn(FAILED_RUN),
        "error": None,
        "execution_status": None,
        "status_after": None,
    }


def test_ctrl_c_while_replaying_exits_130_and_says_what_keeps_running(
    aws: StubbedSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack_outputs(aws)
    failed_record(aws)
    execution(aws, FAILED_RUN, "FAILED")
    no_execution(aws, replay_arn(FAILED_RUN))

    def interrupted(*args: Any, **kwargs: Any) -> list[ReplayItem]:
        raise KeyboardInterrupt

    monkeypatch.setattr(Replay, "start", interrupted)

    result = labeler("replay", "--key", KEY)

    assert result.exit_code == 130
    assert "Interrupted: what was started keeps running; run the same replay again" in result.stderr
