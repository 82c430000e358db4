"""validate reads header bytes only, pinned to the event's object version."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from labeler.aws.objects import S3ObjectSource
from labeler.aws.results import ResultsRepository
from labeler.errors import ImageRejected, RejectionCode
from labeler.events import UploadEvent
from labeler.imaging import HEADER_BYTES
from labeler.models import ExecutionRef, ImageStatus, Stage
from labeler.pipeline import Progress, validate_object
from labeler.quota import DailyQuota
from labeler_tools.deployment import LocalResources
from labeler_tools.local import runner
from labeler_tools.local.server import LocalAws
from labeler_tools.samples import photo_like
from tests.corpus import jpeg_with_large_metadata, padded_jpeg

pytestmark = pytest.mark.integration


class _NoLedger:
    def charge(self, *_args: object) -> None:
        raise AssertionError("no quota applies in these tests")


#: Limits of 0: nothing is charged.
NO_QUOTA = DailyQuota(_NoLedger(), per_owner=0, overall=0)


def _source(local_aws: LocalAws, event: dict[str, object]) -> S3ObjectSource:
    s3 = local_aws.session().client("s3")
    return S3ObjectSource(s3, UploadEvent.model_validate(event).object_ref())


@pytest.fixture
def repository(local_aws: LocalAws, stack: LocalResources) -> ResultsRepository:
    return ResultsRepository(local_aws.session().client("dynamodb"), stack.results_table)


@pytest.fixture
def progress(repository: ResultsRepository) -> Progress:
    return Progress(repository, ExecutionRef(id="arn:execution"), datetime.now(UTC))


def _s3_requests(source: S3ObjectSource) -> list[str]:
    """Records the S3 operations ``source`` sends from now on."""
    sent: list[str] = []
    source.client.meta.events.register(
        "before-call.s3.*", lambda model, **_: sent.append(model.name), unique_id=f"count-{id(sent)}"
    )
    return sent


def test_a_15_mb_image_costs_one_request_and_at_most_64_kib(
    local_aws: LocalAws, stack: LocalResources, owner: str, progress: Progress
) -> None:
    s3 = local_aws.session().client("s3")
    event = runner.upload(s3, stack.upload_bucket, f"uploads/{owner}/big.jpg", padded_jpeg())
    source = _source(local_aws, event)
    sent = _s3_requests(source)

    image = validate_object(source, progress, NO_QUOTA)

    assert sent == ["GetObject"]  # size and metadata come from the ranged GET's answer
    assert image.object.size > 14 * 1024 * 1024
    assert (image.width, image.height) == (640, 480)
    assert source.bytes_read <= HEADER_BYTES


def test_large_metadata_needs_only_small_extra_reads(
    local_aws: LocalAws, stack: LocalResources, owner: str, progress: Progress
) -> None:
    s3 = local_aws.session().client("s3")
    event = runner.upload(s3, stack.upload_bucket, f"uploads/{owner}/exif.jpg", jpeg_with_large_metadata())
    source = _source(local_aws, event)

    # one small read per metadata segment that ends past the first 64 KiB (two here)
    assert (validate_object(source, progress, NO_QUOTA).width, source.bytes_read) == (
        320,
        HEADER_BYTES + 2 * 512,
    )


def test_an_empty_object_is_told_from_a_deleted_one_by_a_head_request(
    local_aws: LocalAws, stack: LocalResources, owner: str, progress: Progress
) -> None:
    s3 = local_aws.session().client("s3")
    event = runner.upload(s3, stack.upload_bucket, f"uploads/{owner}/empty.jpg", b"")
    source = _source(local_aws, event)
    sent = _s3_requests(source)

    with pytest.raises(ImageRejected) as raised:
        validate_object(source, progress, NO_QUOTA)

    assert raised.value.code is RejectionCode.EMPTY
    assert sent == ["GetObject", "HeadObject"]  # S3 answers a range over zero bytes with InvalidRange


def test_object_deleted_before_validation_is_object_gone(
    local_aws: LocalAws, stack: LocalResources, owner: str, progress: Progress
) -> None:
    s3 = local_aws.session().client("s3")
    key = f"uploads/{owner}/gone.jpg"
    event = runner.upload(s3, stack.upload_bucket, key, photo_like(100, 100))
    s3.delete_object(Bucket=stack.upload_bucket, Key=key, VersionId=event["detail"]["object"]["version-id"])

    with pytest.raises(ImageRejected) as raised:
        validate_object(_source(local_aws, event), progress, NO_QUOTA)
    assert raised.value.code is RejectionCode.OBJECT_GONE


def test_the_event_version_is_read_even_after_an_overwrite(
    local_aws: LocalAws, stack: LocalResources, owner: str, progress: Progress
) -> None:
    s3 = local_aws.session().client("s3")
    key = f"uploads/{owner}/overwritten.jpg"
    first = runner.upload(s3, stack.upload_bucket, key, photo_like(100, 100))
    runner.upload(s3, stack.upload_bucket, key, b"now it is text")

    assert validate_object(_source(local_aws, first), progress, NO_QUOTA).width == 100


def test_progress_is_recorded_and_the_original_name_read(
    local_aws: LocalAws, stack: LocalResources, owner: str, progress: Progress, repository: ResultsRepository
) -> None:
    s3 = local_aws.session().client("s3")
    key = f"uploads/{owner}/0f3c.jpg"
    event = runner.upload(
        s3, stack.upload_bucket, key, photo_like(100, 100), metadata={"original-name": "Caf%C3%A9 1.jpg"}
    )

    image = validate_object(_source(local_aws, event), progress, NO_QUOTA)

    assert (image.original_name, image.duplicate) == ("Café 1.jpg", False)
    record = repository.get(owner, key)
    assert record is not None
    assert (record.status, record.stage, record.original_name) == (
        ImageStatus.PROCESSING,
        Stage.LABELING,
        "Café 1.jpg",
    )
