"""The chain a user triggers: PutObject to the local S3, and nothing else."""

from __future__ import annotations

import json

import boto3
import pytest

from labeler.aws.label_index import LabelIndexTable
from labeler.models import ImageStatus
from labeler_tools.deployment import LocalResources
from labeler_tools.local import runner
from tests.conftest import drain_executions, wait_for_final_record
from tests.integration.pipeline_helpers import failure_messages

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("photo", "expected", "parent"),
    [("cat", {"Tiger Cat", "Tabby Cat", "Egyptian Mau"}, "Cat"), ("coffee", {"Espresso"}, "Beverage")],
)
def test_a_photo_put_to_s3_gets_sensible_labels(
    delivered: boto3.Session,
    stack: LocalResources,
    owner: str,
    public_domain_photos: dict[str, bytes],
    photo: str,
    expected: set[str],
    parent: str,
) -> None:
    key = f"uploads/{owner}/{photo} shot+1.jpg"
    delivered.client("s3").put_object(Bucket=stack.upload_bucket, Key=key, Body=public_domain_photos[photo])

    record = wait_for_final_record(delivered, stack, owner, key)

    assert record.status is ImageStatus.LABELED
    assert record.labels[0].name in expected
    assert record.label_backend == "onnx"
    assert record.label_model_version and record.label_model_version.startswith("efficientnet-lite0")
    found = LabelIndexTable(delivered.client("dynamodb"), stack.labels_table or "").images(parent, owner)
    assert [entry.image_name for entry in found] == [key]  # found by a parent of its label


def test_a_renamed_text_file_is_rejected_and_notified(
    delivered: boto3.Session, stack: LocalResources, owner: str
) -> None:
    key = f"uploads/{owner}/holiday.jpg"
    with failure_messages(delivered, stack.failure_topic_arn) as published:  # subscribed before the upload
        delivered.client("s3").put_object(
            Bucket=stack.upload_bucket, Key=key, Body=b"%PDF-1.7 definitely a document"
        )
        record = wait_for_final_record(delivered, stack, owner, key)
        runner.wait_for_execution(delivered.client("stepfunctions"), record.execution_id)

    assert (record.status, record.error_code) == (ImageStatus.REJECTED, "UNSUPPORTED_FORMAT")
    assert "PDF" in (record.reason or "")
    assert [message["body"]["code"] for message in published] == ["UNSUPPORTED_FORMAT"]
    assert [message["attributes"]["status"]["Value"] for message in published] == ["REJECTED"]


def test_executions_started_by_eventbridge_have_names_and_history(
    delivered: boto3.Session, stack: LocalResources, owner: str, public_domain_photos: dict[str, bytes]
) -> None:
    key = f"uploads/{owner}/history.jpg"
    delivered.client("s3").put_object(
        Bucket=stack.upload_bucket, Key=key, Body=public_domain_photos["coffee"]
    )
    record = wait_for_final_record(delivered, stack, owner, key)
    drain_executions(delivered, stack)  # the record is written before the store task returns

    sfn = delivered.client("stepfunctions")
    execution = sfn.describe_execution(executionArn=record.execution_id)
    assert not execution["executionArn"].endswith(":None")
    assert execution["status"] == "SUCCEEDED"
    upload = json.loads(execution["input"])["object"]
    assert upload["key"] == key.replace(":", "%3A")
    assert len(upload["sequencer"]) == 18
    history = sfn.get_execution_history(executionArn=record.execution_id)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert entered == ["Validate", "IsDuplicate", "Label", "Store"]


def test_disabled_rule_starts_nothing(delivered: boto3.Session, stack: LocalResources, owner: str) -> None:
    # Delivery happens inside PutObject (the hook starts the execution synchronously), so the
    # execution list right after PutObject is final: no waiting needed to prove a negative.
    sfn, events = delivered.client("stepfunctions"), delivered.client("events")

    def executions() -> int:
        """Every execution of the session so far (more than one page once the backfill tests ran)."""
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=stack.state_machine_arn)
        return sum(len(page["executions"]) for page in pages)

    before = executions()
    events.disable_rule(Name=stack.upload_rule)
    try:
        delivered.client("s3").put_object(
            Bucket=stack.upload_bucket, Key=f"uploads/{owner}/quiet.jpg", Body=b"x"
        )
        after = executions()
    finally:
        events.enable_rule(Name=stack.upload_rule)
    assert after == before
    delivered.client("s3").put_object(Bucket=stack.upload_bucket, Key=f"uploads/{owner}/loud.jpg", Body=b"x")
    assert executions() == before + 1
