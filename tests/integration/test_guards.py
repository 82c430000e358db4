"""The bill and the data guarded, through the real chain (uploads delivered by EventBridge): daily
quotas before any label call, unreadable objects rejected, deletes that leave nothing behind,
private execution input, and REJECTED images kept out of the operator's email."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import boto3
import pytest

import functions.label.handler as label_handler
import functions.validate.handler as validate_handler
from labeler.aws.results import ResultsRepository
from labeler.events import build_object_created_event
from labeler.models import ImageStatus, LabelResult, Limit, ObjectRef, ResultRecord
from labeler.ports import LabelBackend
from labeler.quota import DailyQuota
from labeler_tools.deployment import LocalResources
from labeler_tools.local import runner
from labeler_tools.local.server import LocalAws
from labeler_tools.samples import photo_like
from tests.conftest import NAMES, uploads_delivered, wait_for_final_record
from tests.integration.pipeline_helpers import before_invoking, failure_messages, fresh_usage_table

pytestmark = pytest.mark.integration


@pytest.fixture
def delivery(local_aws: LocalAws, stack: LocalResources) -> Iterator[boto3.Session]:
    with uploads_delivered(local_aws, stack, drain_timeout_s=120) as session:
        yield session


@dataclass
class CountingBackend:
    inner: LabelBackend
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.inner.name

    def warm_up(self) -> None:
        self.inner.warm_up()

    def detect_labels(self, image: ObjectRef) -> LabelResult:
        with self._lock:
            self.calls += 1
        return self.inner.detect_labels(image)


def _finished(session: boto3.Session, records: list[ResultRecord]) -> None:
    """Wait for the executions behind the records: their notifications come after the record."""
    sfn = session.client("stepfunctions")
    for record in records:
        runner.wait_for_execution(sfn, record.execution_id)


def _upload_concurrently(session: boto3.Session, stack: LocalResources, keys: list[str]) -> None:
    s3 = session.client("s3")

    def put(index_key: tuple[int, str]) -> None:
        index, key = index_key
        s3.put_object(Bucket=stack.upload_bucket, Key=key, Body=photo_like(96, 96, seed=index))

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(put, enumerate(keys)))


@pytest.mark.parametrize(
    ("per_owner", "overall", "owners", "who"),
    [(10, 0, 1, "This uploader's"), (0, 10, 5, "The site's")],
    ids=["per-owner", "global"],
)
def test_50_concurrent_uploads_over_a_quota_of_10_label_exactly_10(
    delivery: boto3.Session,
    stack: LocalResources,
    monkeypatch: pytest.MonkeyPatch,
    per_owner: int,
    overall: int,
    owners: int,
    who: str,
) -> None:
    usage = fresh_usage_table(delivery)
    monkeypatch.setattr(validate_handler, "quota", DailyQuota(usage, per_owner=per_owner, overall=overall))
    counting = CountingBackend(label_handler.backend)
    monkeypatch.setattr(label_handler, "backend", counting)
    identities = [f"us-east-1:{uuid.uuid4()}" for _ in range(owners)]
    keys = [(identities[i % owners], f"uploads/{identities[i % owners]}/{i}.jpg") for i in range(50)]
    with failure_messages(delivery, stack.failure_topic_arn) as messages:
        _upload_concurrently(delivery, stack, [key for _, key in keys])
        records = [wait_for_final_record(delivery, stack, o, k, timeout_s=90) for o, k in keys]
        _finished(delivery, records)
    statuses = [record.status for record in records]
    assert statuses.count(ImageStatus.LABELED) == 10
    over = [record for record in records if record.status is ImageStatus.REJECTED]
    assert len(over) == 40
    assert {record.error_code for record in over} == {"QUOTA_EXCEEDED"}
    assert all(
        record.reason and record.reason.startswith(who) and "resets at" in record.reason for record in over
    )
    assert all(not record.labels for record in over)
    assert counting.calls == 10
    # Rejections are published to the topic (the operator's full feed), one each.
    assert sum(message["body"]["code"] == "QUOTA_EXCEEDED" for message in messages) == 40


def test_a_duplicate_event_is_not_charged_twice(
    delivery: boto3.Session, stack: LocalResources, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    usage = fresh_usage_table(delivery)
    monkeypatch.setattr(validate_handler, "quota", DailyQuota(usage, per_owner=1, overall=0))
    first = f"uploads/{owner}/first.jpg"
    delivery.client("s3").put_object(Bucket=stack.upload_bucket, Key=first, Body=photo_like(96, 96))
    assert wait_for_final_record(delivery, stack, owner, first).status is ImageStatus.LABELED
    # The same version again (at-least-once delivery): a duplicate, neither charged nor refused.
    head = delivery.client("s3").head_object(Bucket=stack.upload_bucket, Key=first)
    record = wait_for_final_record(delivery, stack, owner, first)
    event = build_object_created_event(
        bucket=stack.upload_bucket,
        key=first,
        size=head["ContentLength"],
        etag=head["ETag"],
        version_id=head["VersionId"],
        sequencer=record.sequencer,
    )
    sfn = delivery.client("stepfunctions")
    runner.wait_for_execution(sfn, runner.start_execution(sfn, stack.state_machine_arn, event))
    assert wait_for_final_record(delivery, stack, owner, first).status is ImageStatus.LABELED
    second = f"uploads/{owner}/second.jpg"
    delivery.client("s3").put_object(Bucket=stack.upload_bucket, Key=second, Body=photo_like(96, 96, seed=2))
    assert wait_for_final_record(delivery, stack, owner, second).error_code == "QUOTA_EXCEEDED"


def test_an_archived_object_is_rejected_as_not_readable(
    delivery: boto3.Session, stack: LocalResources, owner: str
) -> None:
    key = f"uploads/{owner}/archived.jpg"
    delivery.client("s3").put_object(
        Bucket=stack.upload_bucket, Key=key, Body=photo_like(96, 96), StorageClass="GLACIER"
    )
    record = wait_for_final_record(delivery, stack, owner, key)
    assert (record.status, record.error_code) == (ImageStatus.REJECTED, "OBJECT_NOT_READABLE")
    assert "STANDARD" in (record.reason or "")


def test_the_execution_input_holds_no_source_ip_and_no_requester(
    delivery: boto3.Session, stack: LocalResources, owner: str
) -> None:
    key = f"uploads/{owner}/private.jpg"
    delivery.client("s3").put_object(Bucket=stack.upload_bucket, Key=key, Body=photo_like(96, 96))
    record = wait_for_final_record(delivery, stack, owner, key)
    sfn = delivery.client("stepfunctions")
    execution_input = json.loads(sfn.describe_execution(executionArn=record.execution_id)["input"])
    assert set(execution_input) == {"time", "object"}
    assert set(execution_input["object"]) == {
        "bucket", "key", "version_id", "etag", "size", "sequencer", "request_id",
    }  # fmt: skip
    assert execution_input["object"]["version_id"] == record.version_id
    assert "source-ip-address" not in json.dumps(execution_input)


def test_rejected_images_reach_the_topic_but_not_the_email_filter(
    delivery: boto3.Session, stack: LocalResources, owner: str
) -> None:
    """The local notifications queue has the email subscription's filter policy."""
    sqs = delivery.client("sqs")
    while sqs.receive_message(QueueUrl=stack.notifications_queue_url, MaxNumberOfMessages=10).get("Messages"):
        pass  # (earlier tests' messages become invisible; only new ones are read below)
    key = f"uploads/{owner}/junk.jpg"
    with failure_messages(delivery, stack.failure_topic_arn) as messages:
        delivery.client("s3").put_object(Bucket=stack.upload_bucket, Key=key, Body=b"not an image at all")
        record = wait_for_final_record(delivery, stack, owner, key)
        assert record.status is ImageStatus.REJECTED
        _finished(delivery, [record])
    assert [message["body"]["key"] for message in messages] == [key]
    sns = delivery.client("sns")
    failed: Any = {"status": {"DataType": "String", "StringValue": "FAILED"}}
    sns.publish(TopicArn=stack.failure_topic_arn, Message=f"failed {key}", MessageAttributes=failed)
    sns.publish(TopicArn=stack.failure_topic_arn, Message=f"alarm {key}")  # no attributes, as an alarm
    emailed = [
        json.loads(message["Body"])["Message"]
        for message in sqs.receive_message(
            QueueUrl=stack.notifications_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
    ]
    assert sorted(m for m in emailed if key in m) == [f"alarm {key}", f"failed {key}"]


def _versions(session: boto3.Session, bucket: str, key: str) -> list[str]:
    listing: Any = session.client("s3").list_object_versions(Bucket=bucket, Prefix=key)
    return [v["VersionId"] for kind in ("Versions", "DeleteMarkers") for v in listing.get(kind, [])]


def _wait_for_tombstone(session: boto3.Session, stack: LocalResources, owner: str, key: str) -> None:
    repository = ResultsRepository(session.client("dynamodb"), stack.results_table)
    deadline = time.monotonic() + 30
    while (record := repository.get(owner, key)) is None or record.status is not ImageStatus.DELETED:
        assert time.monotonic() < deadline, f"{key} was not forgotten: {record}"
        time.sleep(0.05)
    assert not record.labels and record.original_name is None and record.expires_at


def test_a_delete_removes_every_version_and_leaves_only_a_tombstone(
    delivery: boto3.Session, stack: LocalResources, owner: str
) -> None:
    key = f"uploads/{owner}/gone.jpg"
    s3 = delivery.client("s3")
    s3.put_object(
        Bucket=stack.upload_bucket, Key=key, Body=photo_like(96, 96), Metadata={"original-name": "me.jpg"}
    )
    s3.put_object(Bucket=stack.upload_bucket, Key=key, Body=photo_like(96, 96, seed=3))
    assert wait_for_final_record(delivery, stack, owner, key).status is ImageStatus.LABELED
    s3.put_object(Bucket=stack.upload_bucket, Key=f"{key}.kept", Body=photo_like(96, 96, seed=4))
    s3.delete_object(Bucket=stack.upload_bucket, Key=key)
    _wait_for_tombstone(delivery, stack, owner, key)
    deadline = time.monotonic() + 30
    while _versions(delivery, stack.upload_bucket, key) != _versions(
        delivery, stack.upload_bucket, f"{key}.kept"
    ):
        assert time.monotonic() < deadline, _versions(delivery, stack.upload_bucket, key)
        time.sleep(0.05)
    assert len(_versions(delivery, stack.upload_bucket, f"{key}.kept")) == 1  # a key it prefixes stays


def test_a_delete_while_the_image_is_labeled_leaves_no_record_behind(
    delivery: boto3.Session, stack: LocalResources, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"uploads/{owner}/racing.jpg"
    storing, release = threading.Event(), threading.Event()

    def hold_the_store() -> None:  # the labels are done and the store is about to run
        storing.set()
        assert release.wait(30)

    before_invoking(monkeypatch, f"{NAMES.prefix}-store", hold_the_store)
    s3 = delivery.client("s3")
    s3.put_object(Bucket=stack.upload_bucket, Key=key, Body=photo_like(96, 96))
    assert storing.wait(30)
    s3.delete_object(Bucket=stack.upload_bucket, Key=key)
    _wait_for_tombstone(delivery, stack, owner, key)
    release.set()
    sfn = delivery.client("stepfunctions")
    execution = sfn.list_executions(stateMachineArn=stack.state_machine_arn, statusFilter="RUNNING")
    for running in execution["executions"]:
        runner.wait_for_execution(sfn, running["executionArn"])
    _wait_for_tombstone(delivery, stack, owner, key)  # the late store was refused
    assert _versions(delivery, stack.upload_bucket, key) == []


def test_a_version_is_charged_once_however_often_validate_runs(
    local_aws: LocalAws, stack: LocalResources
) -> None:
    """A retried validate (a timeout after its charge, a throttled progress write) charges nothing again."""
    usage = fresh_usage_table(local_aws.session())
    day = date(2026, 12, 2)
    assert usage.charge("b/uploads/o/a.jpg#1", "o", day, 1, 0) is None
    assert usage.charge("b/uploads/o/a.jpg#1", "o", day, 1, 0) is None  # the same version again
    assert usage.charge("b/uploads/o/b.jpg#2", "o", day, 1, 0) is Limit.OWNER
    counter = usage.client.get_item(TableName=usage.table_name, Key={"Counter": {"S": "owner#o#2026-12-02"}})
    assert counter["Item"]["Images"] == {"N": "1"}
