"""Helpers for tests that run the real state machine against the session's local stack."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.awslambda.models import LambdaFunction

from labeler.aws.results import ResultsRepository
from labeler.aws.usage import UsageTable
from labeler.blueprint import USAGE_TABLE
from labeler.events import normalize_sequencer
from labeler.models import ImageStatus, ResultRecord
from labeler_tools.deployment import Discovery, LocalResources, write_discovery
from labeler_tools.local import runner
from labeler_tools.local.server import LocalAws


@dataclass
class Run:
    execution_arn: str
    status: str
    error: str | None
    history: list[dict[str, Any]]

    def failed_tasks(self, state: str) -> list[dict[str, Any]]:
        """TaskFailed events of one state (one per failed attempt)."""
        current, failures = None, []
        for event in self.history:
            if event["type"] == "TaskStateEntered":
                current = event["stateEnteredEventDetails"]["name"]
            if event["type"] == "TaskFailed" and current == state:
                failures.append(event["taskFailedEventDetails"])
        return failures

    def entered_states(self) -> list[str]:
        return [
            event["stateEnteredEventDetails"]["name"]
            for event in self.history
            if event["type"].endswith("StateEntered")
        ]


@dataclass
class Pipeline:
    """Uploads objects to the local stack and runs their executions to the end."""

    session: boto3.Session
    stack: LocalResources

    def __post_init__(self) -> None:
        self.s3 = self.session.client("s3")
        self.sfn = self.session.client("stepfunctions")
        self.results = ResultsRepository(self.session.client("dynamodb"), self.stack.results_table)

    def upload(self, key: str, body: bytes) -> dict[str, Any]:
        return runner.upload(self.s3, self.stack.upload_bucket, key, body)

    def execute(self, event: dict[str, Any], timeout_s: float = 60) -> Run:
        arn = runner.start_execution(self.sfn, self.stack.state_machine_arn, event)
        description = runner.wait_for_execution(self.sfn, arn, timeout_s)
        history = self.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return Run(arn, description["status"], description.get("error"), list(history))  # type: ignore[arg-type]

    def record(self, owner: str, key: str) -> ResultRecord | None:
        return self.results.get(owner, key)


def discovery_dir(folder: Path, aws: LocalAws, stack: LocalResources, label_backend: str) -> Path:
    """``folder`` with the discovery file `labeler local` would write for this stack: the CLI, given
    ``--data-dir folder``, works on it over HTTP."""
    discovery = Discovery(
        **stack.model_dump(),
        endpoint_url=aws.endpoint_url,
        web_url="http://127.0.0.1:9/",
        label_backend=label_backend,
        pid=os.getpid(),
        started_at="2026-12-02T00:00:00+00:00",
    )
    write_discovery(folder, discovery)
    return folder


@contextmanager
def failure_messages(session: boto3.Session, topic_arn: str) -> Iterator[list[dict[str, Any]]]:
    """Collect the SNS failure notifications published while the block runs (via an SQS subscription)."""
    sqs, sns = session.client("sqs"), session.client("sns")
    queue_url = sqs.create_queue(QueueName=f"failures-{id(object())}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    messages: list[dict[str, Any]] = []
    try:
        yield messages
    finally:
        sns.unsubscribe(SubscriptionArn=subscription)
        while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                envelope = json.loads(message["Body"])
                messages.append(
                    {
                        "body": json.loads(envelope["Message"]),
                        "attributes": envelope.get("MessageAttributes", {}),
                    }
                )
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        sqs.delete_queue(QueueUrl=queue_url)


def competing_record(owner: str, status: ImageStatus, sequencer: str, execution: str) -> ResultRecord:
    """A record of ``uploads/<owner>/a.jpg`` at ``sequencer``: the conditional write's test subject."""
    return ResultRecord(
        owner=owner,
        image_name=f"uploads/{owner}/a.jpg",
        bucket="b",
        status=status,
        timestamp="2026-01-01T00:00:00.000Z",
        uploaded_at="2026-01-01T00:00:00Z",
        size=1,
        etag="e",
        sequencer=normalize_sequencer(sequencer),
        execution_id=execution,
    )


def fresh_usage_table(session: boto3.Session) -> UsageTable:
    """Counters of this test only (the session's table counts every other test's images too)."""
    name = f"usage-{uuid.uuid4().hex[:8]}"
    client = session.client("dynamodb")
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": USAGE_TABLE.partition_key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": USAGE_TABLE.partition_key, "KeyType": "HASH"}],
    )
    return UsageTable(client, name)


def before_invoking(monkeypatch: pytest.MonkeyPatch, function: str, action: Callable[[], None]) -> None:
    """Run ``action`` each time the Lambda function named ``function`` is about to be invoked, outside
    the runtime (which runs one handler at a time, so a handler cannot wait for another to run)."""
    invoke = LambdaFunction._invoke_lambda

    def invoke_after_action(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        if self.function_name == function:
            action()
        return invoke(self, event)

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke_after_action)
