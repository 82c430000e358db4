"""Hostile and odd uploads through the whole local chain (S3 -> EventBridge -> Step Functions ->
handlers with the offline model -> DynamoDB): each ends in exactly one terminal record with the right
status and a specific reason, permanent errors are never retried, nothing is LABELED that should not be.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import boto3
import pytest
from PIL import Image

from labeler.models import ImageStatus, ResultRecord
from labeler_tools.deployment import LocalResources
from labeler_tools.local import runner
from labeler_tools.samples import photo_like
from tests.conftest import drain_executions, wait_for_final_record
from tests.corpus import encode, rejected_images, valid_images

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    status: ImageStatus
    code: str | None = None
    #: The key's file name; most cases pose as a photo.
    file_name: str = "photo.jpg"


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (120, 120), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def _exif_rotated_jpeg() -> bytes:
    image = Image.open(io.BytesIO(photo_like(320, 200, image_format="PNG"))).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    return encode(image, "JPEG", exif=exif.tobytes())


def _cut(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


def cases() -> list[Case]:
    png = encode(Image.open(io.BytesIO(photo_like(300, 200, image_format="PNG"))).convert("RGB"), "PNG")
    corpus = [
        Case(f"rejected-{c.name}", c.data, ImageStatus.REJECTED, c.code.value) for c in rejected_images()
    ]
    corpus += [Case(f"valid-{name}", data, ImageStatus.LABELED) for name, data in valid_images().items()]
    corpus += [
        Case("gif-animated", _animated_gif(), ImageStatus.REJECTED, "UNSUPPORTED_FORMAT"),
        # Header intact, pixels cut off: validate passes it, the model cannot decode it.
        Case(
            "jpeg-truncated-body", _cut(photo_like(640, 480), 0.6), ImageStatus.REJECTED, "UNREADABLE_IMAGE"
        ),
        Case("png-truncated-body", _cut(png, 0.5), ImageStatus.REJECTED, "UNREADABLE_IMAGE", "cut.png"),
        Case(
            "polyglot-png-html",
            png[:33] + b"<html><script>alert(document.cookie)</script></html>",
            ImageStatus.REJECTED,
            "UNREADABLE_IMAGE",
            "poly.png",
        ),
        Case("jpeg-exif-rotated", _exif_rotated_jpeg(), ImageStatus.LABELED),
        Case("key-spaces", photo_like(200, 150), ImageStatus.LABELED, file_name="my holiday photo.jpg"),
        Case("key-plus", photo_like(200, 150), ImageStatus.LABELED, file_name="c++ a+b.jpg"),
        Case("key-percent", photo_like(200, 150), ImageStatus.LABELED, file_name="100% real %41.jpg"),
        Case("key-unicode", photo_like(200, 150), ImageStatus.LABELED, file_name="日本の写真 ü é.jpg"),
        Case("key-long", photo_like(200, 150), ImageStatus.LABELED, file_name="x" * 900 + ".jpg"),
        Case("key-dot-dot", photo_like(200, 150), ImageStatus.LABELED, file_name="../../../etc/passwd.jpg"),
    ]
    return corpus


CASES = cases()


@pytest.fixture(scope="module")
def outcomes(delivered: boto3.Session, stack: LocalResources) -> dict[str, tuple[str, ResultRecord]]:
    """Upload every case (delivery through EventBridge), then collect each one's final record."""
    s3 = delivered.client("s3")
    keys = {case.name: f"uploads/corpus/{case.name}/{case.file_name}" for case in CASES}
    for case in CASES:
        s3.put_object(Bucket=stack.upload_bucket, Key=keys[case.name], Body=case.body)
    return {
        case.name: (keys[case.name], wait_for_final_record(delivered, stack, "corpus", keys[case.name]))
        for case in CASES
    }


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CASES) >= 30
    assert {case.status for case in CASES} == {ImageStatus.LABELED, ImageStatus.REJECTED}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_input_ends_with_the_expected_outcome(
    case: Case, outcomes: dict[str, tuple[str, ResultRecord]], delivered: boto3.Session
) -> None:
    key, record = outcomes[case.name]
    assert record.image_name == key  # the key survived encoding and decoding exactly
    assert (record.status, record.error_code) == (case.status, case.code), record.reason
    if case.status is ImageStatus.REJECTED:
        assert record.reason and len(record.reason) > 20  # specific and human-readable
    history = delivered.client("stepfunctions").get_execution_history(
        executionArn=record.execution_id, maxResults=1000
    )["events"]
    failed_tasks = [event for event in history if event["type"] == "TaskFailed"]
    # Permanent errors fail exactly one task attempt; labeled images none.
    assert len(failed_tasks) == (0 if case.status is ImageStatus.LABELED else 1)


def test_exif_orientation_does_not_change_the_stored_header_size(
    outcomes: dict[str, tuple[str, ResultRecord]],
) -> None:
    _, record = outcomes["jpeg-exif-rotated"]
    assert (record.width, record.height) == (320, 200)


def test_object_deleted_before_validation_is_object_gone(
    delivered: boto3.Session, stack: LocalResources, owner: str
) -> None:
    s3, sfn = delivered.client("s3"), delivered.client("stepfunctions")
    events = delivered.client("events")
    events.disable_rule(Name=stack.upload_rule)  # hold the event, as if EventBridge were slow
    try:
        key = f"uploads/{owner}/gone.jpg"
        event = runner.upload(s3, stack.upload_bucket, key, photo_like(200, 200))
        s3.delete_object(
            Bucket=stack.upload_bucket, Key=key, VersionId=event["detail"]["object"]["version-id"]
        )
    finally:
        events.enable_rule(Name=stack.upload_rule)
    execution = runner.wait_for_execution(sfn, runner.start_execution(sfn, stack.state_machine_arn, event))

    assert (execution["status"], execution.get("error")) == ("FAILED", "ImageRejected")
    assert "OBJECT_GONE" in execution.get("cause", "")
    # The deletion's own event leaves a DELETED tombstone (cleanup); it is newer than the deleted
    # version, so whichever is written first, the version's REJECTED outcome never replaces it.
    record = wait_for_final_record(delivered, stack, owner, key)
    assert (record.status, record.error_code) in {
        (ImageStatus.REJECTED, "OBJECT_GONE"),
        (ImageStatus.DELETED, None),
    }


def test_overwrite_during_processing_leaves_the_newest_version(
    delivered: boto3.Session, stack: LocalResources, owner: str
) -> None:
    s3, key = delivered.client("s3"), f"uploads/{owner}/edited.jpg"
    s3.put_object(Bucket=stack.upload_bucket, Key=key, Body=photo_like(300, 300, seed=1))
    newest = s3.put_object(Bucket=stack.upload_bucket, Key=key, Body=photo_like(400, 300, seed=2))

    drain_executions(delivered, stack)  # both versions' executions have ended

    final = wait_for_final_record(delivered, stack, owner, key)
    assert (final.version_id, final.width, final.status) == (newest["VersionId"], 400, ImageStatus.LABELED)
