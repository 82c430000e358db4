"""The ASL from statemachine/ executed by moto's interpreter, with the real handlers invoked in process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import pytest

import functions.label.handler as label_handler
from labeler.faults import FailFirstCalls
from labeler.models import ImageFormat, ImageStatus, LabelResult, ObjectRef
from labeler_tools.deployment import LocalResources
from labeler_tools.local.server import LocalAws
from labeler_tools.samples import photo_like
from tests.conftest import NAMES
from tests.integration.pipeline_helpers import Pipeline, before_invoking, failure_messages

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipeline(local_aws: LocalAws, stack: LocalResources) -> Pipeline:
    return Pipeline(local_aws.session(), stack)


FlakyLabels = Callable[[int], FailFirstCalls]


@pytest.fixture
def flaky_labels(monkeypatch: pytest.MonkeyPatch) -> FlakyLabels:
    """Lets a test make the label backend fail its first N calls (undone after the test)."""

    def install(failures: int) -> FailFirstCalls:
        flaky = FailFirstCalls(label_handler.backend, failures)
        monkeypatch.setattr(label_handler, "backend", flaky)
        return flaky

    return install


def test_happy_path_stores_a_labeled_record(pipeline: Pipeline, stack: LocalResources, owner: str) -> None:
    key = f"uploads/{owner}/holiday photo+1 (café).jpg"
    event = pipeline.upload(key, photo_like(800, 600))

    run = pipeline.execute(event)

    assert run.status == "SUCCEEDED"
    assert run.entered_states() == ["Validate", "IsDuplicate", "Label", "Store"]
    record = pipeline.record(owner, key)
    assert record is not None
    assert record.status is ImageStatus.LABELED
    assert (record.format, record.width, record.height) == (ImageFormat.JPEG, 800, 600)
    assert record.labels and all(0 < label.confidence <= 100 for label in record.labels)
    assert record.label_model_version
    assert record.execution_id == run.execution_arn
    assert record.version_id == event["detail"]["object"]["version-id"]
    assert datetime.fromisoformat(record.timestamp).year >= 2025
    assert record.timings.validate_ms is not None and record.timings.label_ms is not None
    raw = pipeline.session.client("dynamodb").get_item(
        TableName=stack.results_table, Key={"Owner": {"S": owner}, "ImageName": {"S": key}}
    )["Item"]
    assert Decimal(raw["Labels"]["L"][0]["M"]["Confidence"]["N"]) > 0
    assert "FailureStatus" not in raw  # only failures are in the failure index


def test_rejected_image_records_reason_publishes_once_and_fails_the_execution(
    pipeline: Pipeline, stack: LocalResources, owner: str
) -> None:
    key = f"uploads/{owner}/not-really.jpg"
    with failure_messages(pipeline.session, stack.failure_topic_arn) as messages:
        run = pipeline.execute(pipeline.upload(key, b"<html><body>I am not a photo</body></html>"))

    assert run.status == "FAILED"
    assert run.error == "ImageRejected"
    assert run.failed_tasks("Validate")[0]["error"] == "ImageRejected"
    assert len(run.failed_tasks("Validate")) == 1  # permanent: no retries
    assert "Label" not in run.entered_states()
    record = pipeline.record(owner, key)
    assert record is not None
    assert record.status is ImageStatus.REJECTED
    assert record.error_code == "UNSUPPORTED_FORMAT"
    assert record.reason == "The file is a HTML file; only JPEG and PNG images can be labeled."
    assert record.failed_state == "Validate"
    mine = [m for m in messages if m["body"]["owner"] == owner]
    assert len(mine) == 1
    assert mine[0]["body"] == {
        "key": key,
        "bucket": stack.upload_bucket,
        "owner": owner,
        "status": "REJECTED",
        "code": "UNSUPPORTED_FORMAT",
        "reason": record.reason,
        "error": "ImageRejected",
        "failed_state": "Validate",
        "execution_id": run.execution_arn,
    }
    assert mine[0]["attributes"]["status"]["Value"] == "REJECTED"


def test_transient_label_errors_are_retried_and_visible_in_history(
    pipeline: Pipeline, owner: str, flaky_labels: FlakyLabels
) -> None:
    flaky = flaky_labels(2)
    key = f"uploads/{owner}/retry.png"

    run = pipeline.execute(pipeline.upload(key, photo_like(300, 200, image_format="PNG")))

    assert run.status == "SUCCEEDED"
    assert flaky.calls == 3
    failures = run.failed_tasks("Label")
    assert [failure["error"] for failure in failures] == ["LabelServiceThrottled"] * 2
    record = pipeline.record(owner, key)
    assert record is not None and record.status is ImageStatus.LABELED


def test_exhausted_retries_record_failed_and_notify(
    pipeline: Pipeline, stack: LocalResources, owner: str, flaky_labels: FlakyLabels
) -> None:
    flaky = flaky_labels(1000)
    key = f"uploads/{owner}/outage.jpg"
    with failure_messages(pipeline.session, stack.failure_topic_arn) as messages:
        run = pipeline.execute(pipeline.upload(key, photo_like(320, 240)))

    assert run.status == "FAILED"
    assert run.error == "LabelServiceThrottled"
    assert flaky.calls == 6  # first attempt + MaxAttempts 5
    record = pipeline.record(owner, key)
    assert record is not None
    assert record.status is ImageStatus.FAILED
    assert (record.error, record.failed_state) == ("LabelServiceThrottled", "Label")
    assert "injected fault" in (record.reason or "")
    assert [m["body"]["status"] for m in messages if m["body"]["owner"] == owner] == ["FAILED"]
    failures = pipeline.session.client("dynamodb").query(
        TableName=stack.results_table,
        IndexName="FailuresByTime",
        KeyConditionExpression="FailureStatus = :failed AND #ts >= :since",
        ExpressionAttributeNames={"#ts": "Timestamp"},
        ExpressionAttributeValues={":failed": {"S": "FAILED"}, ":since": {"S": record.uploaded_at}},
    )["Items"]
    assert key in [item["ImageName"]["S"] for item in failures]


def test_duplicate_event_is_absorbed_without_labeling_again(
    pipeline: Pipeline, stack: LocalResources, owner: str, flaky_labels: FlakyLabels
) -> None:
    key = f"uploads/{owner}/twice.jpg"
    event = pipeline.upload(key, photo_like(200, 200))
    counting = flaky_labels(0)  # never fails; counts label calls
    first = pipeline.execute(event)
    stored = pipeline.record(owner, key)

    with failure_messages(pipeline.session, stack.failure_topic_arn) as messages:
        second = pipeline.execute(event)

    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
    assert second.entered_states() == ["Validate", "IsDuplicate", "AlreadyStored"]
    assert counting.calls == 1  # no second label charge
    assert pipeline.record(owner, key) == stored  # untouched, execution id included
    assert not [m for m in messages if m["body"]["owner"] == owner]


def test_duplicate_event_during_labeling_leaves_the_version_to_the_first_execution(
    pipeline: Pipeline, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"uploads/{owner}/at-once.jpg"
    event = pipeline.upload(key, photo_like(200, 200))
    duplicates: list[list[str]] = []

    def duplicate_arrives() -> None:
        if not duplicates:  # as the first execution starts labeling, the same event starts another
            duplicates.append(pipeline.execute(event).entered_states())

    before_invoking(monkeypatch, f"{NAMES.prefix}-label", duplicate_arrives)
    first = pipeline.execute(event)

    assert duplicates == [["Validate", "IsDuplicate", "AlreadyStored"]]  # the claim held: one label call
    record = pipeline.record(owner, key)
    assert first.status == "SUCCEEDED" and record is not None
    assert (record.status, record.execution_id) == (ImageStatus.LABELED, first.execution_arn)


def test_duplicate_of_a_rejected_image_publishes_nothing_more(
    pipeline: Pipeline, stack: LocalResources, owner: str
) -> None:
    event = pipeline.upload(f"uploads/{owner}/twice.gif", b"GIF89a" + b"\x00" * 32)
    with failure_messages(pipeline.session, stack.failure_topic_arn) as messages:
        runs = [pipeline.execute(event), pipeline.execute(event)]

    assert [run.status for run in runs] == ["FAILED", "FAILED"]  # both visible as failed in the console
    assert [m["body"]["code"] for m in messages if m["body"]["owner"] == owner] == ["UNSUPPORTED_FORMAT"]


def test_live_status_while_labeling(pipeline: Pipeline, owner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key = f"uploads/{owner}/live.jpg"
    seen: list[tuple[str, str | None]] = []
    inner = label_handler.backend

    class Spy:
        name = inner.name

        def detect_labels(self, image: ObjectRef) -> LabelResult:
            record = pipeline.record(owner, key)
            assert record is not None
            seen.append((record.status.value, record.stage.value if record.stage else None))
            return inner.detect_labels(image)

    monkeypatch.setattr(label_handler, "backend", Spy())
    pipeline.execute(pipeline.upload(key, photo_like(200, 200)))

    assert seen == [("PROCESSING", "LABELING")]
    final = pipeline.record(owner, key)
    assert final is not None
    assert (final.status, final.stage) == (ImageStatus.LABELED, None)


def test_late_event_for_an_older_version_never_overwrites_the_newer_result(
    pipeline: Pipeline, owner: str
) -> None:
    key = f"uploads/{owner}/edited.jpg"
    older = pipeline.upload(key, photo_like(300, 300, seed=1))
    newer = pipeline.upload(key, photo_like(400, 300, seed=2))

    assert pipeline.execute(newer).status == "SUCCEEDED"
    late = pipeline.execute(older)
    assert late.status == "SUCCEEDED"
    assert late.entered_states()[-1] == "AlreadyStored"

    record = pipeline.record(owner, key)
    assert record is not None
    assert (record.width, record.version_id) == (400, newer["detail"]["object"]["version-id"])


def test_replaying_a_failed_item_turns_it_labeled(
    pipeline: Pipeline, owner: str, flaky_labels: FlakyLabels
) -> None:
    flaky = flaky_labels(6)
    key = f"uploads/{owner}/replay.jpg"
    event = pipeline.upload(key, photo_like(320, 240))
    assert pipeline.execute(event).status == "FAILED"
    assert flaky.calls == 6

    assert pipeline.execute(event).status == "SUCCEEDED"  # same input: what a replay starts

    record = pipeline.record(owner, key)
    assert record is not None and record.status is ImageStatus.LABELED


def test_key_outside_an_owner_folder_is_rejected(pipeline: Pipeline) -> None:
    run = pipeline.execute(pipeline.upload("uploads/orphan.jpg", photo_like(100, 100)))

    assert run.status == "FAILED"
    record = pipeline.record("~unowned", "uploads/orphan.jpg")
    assert record is not None and record.error_code == "INVALID_KEY"
