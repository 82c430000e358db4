"""Turning the final state of an execution into a results-table record, and back."""

from __future__ import annotations

import json
from decimal import Decimal

from boto3.dynamodb.types import TypeSerializer

from labeler.aws.results import item_to_record, record_to_item
from labeler.events import PipelineState, build_object_created_event
from labeler.models import (
    BoundingBox,
    ExecutionRef,
    ImageFormat,
    ImageInfo,
    ImageStatus,
    Instance,
    Label,
    LabelResult,
)
from labeler.pipeline import build_record
from labeler_tools.ops.records import read_item

EXECUTION = ExecutionRef(id="arn:aws:states:us-east-1:1:execution:sm:abc", name="abc")
EVENT = build_object_created_event(
    bucket="b", key="uploads/alice/a b.jpg", size=1234, etag='"etag1"', version_id="v1", sequencer="0A"
)
NOW = "2030-01-01T00:00:01.500Z"


def _state(**extra: object) -> PipelineState:
    return PipelineState.model_validate({**EVENT, **extra})


def _image() -> dict[str, object]:
    ref = PipelineState.model_validate(EVENT).object_ref()
    return ImageInfo(object=ref, format=ImageFormat.PNG, width=640, height=480, validate_ms=3.5).model_dump(
        mode="json"
    )


def _labels(n: int = 2) -> dict[str, object]:
    box = BoundingBox(width=0.5, height=0.5, left=0.1, top=0.1)
    labels = [
        Label(
            name=f"L{i}",
            confidence=90 - i * 90 / max(n, 1),
            instances=[Instance(bounding_box=box, confidence=80)],
        )
        for i in range(n)
    ]
    return LabelResult(
        labels=labels, label_model_version="3.0", backend="rekognition", label_ms=12.0
    ).model_dump(mode="json")


def test_labeled_record_has_every_field_and_round_trips_through_dynamodb_types() -> None:
    record = build_record(_state(image=_image(), labels=_labels()), EXECUTION, NOW)
    assert record.status is ImageStatus.LABELED
    assert (record.owner, record.image_name, record.width, record.format) == (
        "alice",
        "uploads/alice/a b.jpg",
        640,
        ImageFormat.PNG,
    )
    assert record.version_id == "v1" and record.etag == "etag1"
    assert record.timings.label_ms == 12.0

    item = record_to_item(record)
    assert item["ImageName"] == "uploads/alice/a b.jpg"
    assert item["ETag"] == "etag1"
    assert item["Labels"][0]["Confidence"] == Decimal("90")
    assert item["Labels"][0]["Instances"][0]["BoundingBox"]["Left"] == Decimal("0.1")
    assert "FailureStatus" not in item and "ErrorCode" not in item
    assert item_to_record(item) == record


def test_rejection_keeps_code_and_reason_from_the_lambda_error() -> None:
    cause = json.dumps(
        {
            "errorMessage": "TOO_SMALL: The image is 50x50 px; each side must be at least 80 px.",
            "errorType": "ImageRejected",
            "stackTrace": ['  File "/var/task/handler.py", line 3'],
        }
    )
    record = build_record(
        _state(error={"Error": "ImageRejected", "Cause": cause}, failed_state="Validate"), EXECUTION, NOW
    )
    assert record.status is ImageStatus.REJECTED
    assert (record.error_code, record.reason) == (
        "TOO_SMALL",
        "The image is 50x50 px; each side must be at least 80 px.",
    )
    assert record_to_item(record)["FailureStatus"] == "REJECTED"
    assert "stackTrace" not in (record.cause or "")  # guests read their records: no server paths
    assert json.loads(record.cause or "")["errorType"] == "ImageRejected"


def test_failure_from_a_states_error_without_a_lambda_payload() -> None:
    record = build_record(
        _state(
            image=_image(), error={"Error": "States.Timeout", "Cause": "Task timed out"}, failed_state="Label"
        ),
        EXECUTION,
        NOW,
    )
    assert record.status is ImageStatus.FAILED
    assert (record.error_code, record.reason, record.failed_state) == (
        "States.Timeout",
        "Task timed out",
        "Label",
    )
    assert record.width == 640  # what validate learned is kept


def test_timestamps_share_one_sortable_format() -> None:
    record = build_record(_state(image=_image(), labels=_labels()), EXECUTION, NOW)
    assert record.uploaded_at.endswith("Z") and len(record.uploaded_at) == len(record.timestamp)


def test_label_payload_is_trimmed_under_the_budget_keeping_the_most_confident() -> None:
    result = LabelResult.model_validate(_labels(200))
    trimmed = result.trimmed(max_bytes=4000)
    assert len(trimmed.model_dump_json()) <= 4000
    assert trimmed.labels[0].name == "L0"
    assert all(not label.instances for label in trimmed.labels)


def test_the_cli_reads_what_the_pipeline_writes_as_the_same_record() -> None:
    record = build_record(_state(image=_image(), labels=_labels()), EXECUTION, NOW)
    wire = {name: TypeSerializer().serialize(value) for name, value in record_to_item(record).items()}

    assert read_item(wire) == record
