"""The pipeline's writes against the results table and the upload bucket in moto: the conditional
write, progress marks, validate's size and quota charge, the terminal record and its notification,
the labeling step, and the cleanup after a delete."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Self

import pytest
from botocore.exceptions import ClientError

from labeler import pipeline
from labeler.aws.objects import ObjectVersions, S3ObjectSource
from labeler.aws.results import ResultsRepository
from labeler.errors import ImageRejected, RejectionCode, StorageThrottled
from labeler.events import PipelineState, UploadEvent, build_object_created_event, normalize_sequencer
from labeler.labels.rekognition import RekognitionBackend
from labeler.models import (
    UNOWNED,
    Deletion,
    DeletionType,
    ExecutionRef,
    FailureNotification,
    Forgotten,
    ImageFormat,
    ImageInfo,
    ImageStatus,
    LabelResult,
    ObjectRef,
    ResultRecord,
    Stage,
    StoreOutcome,
)
from labeler.pipeline import Progress, forget_deleted, label_image, record_outcome, validate_object
from labeler.quota import DailyQuota
from labeler_tools.deployment import LocalResources
from labeler_tools.local import runner
from labeler_tools.local.server import LocalAws
from labeler_tools.samples import photo_like
from tests.integration.pipeline_helpers import competing_record

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

UPLOADED = datetime(2030, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def repository(local_aws: LocalAws, stack: LocalResources) -> ResultsRepository:
    return ResultsRepository(local_aws.session().client("dynamodb"), stack.results_table)


@pytest.fixture
def s3(local_aws: LocalAws) -> S3Client:
    return local_aws.session().client("s3")


@pytest.fixture
def execution(owner: str) -> ExecutionRef:
    return ExecutionRef(id=f"arn:aws:states:us-east-1:1:execution:sm:{owner}")


@pytest.fixture
def progress(repository: ResultsRepository, execution: ExecutionRef) -> Progress:
    return Progress(repository, execution, UPLOADED)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every step the pipeline times takes 12.3456 ms: its perf_counter reads start, end, start, ..."""
    readings = itertools.cycle([2.0, 2.0123456])
    monkeypatch.setattr(pipeline, "time", SimpleNamespace(perf_counter=lambda: next(readings)))


@pytest.fixture(scope="module")
def quiet_bucket(local_aws: LocalAws, stack: LocalResources) -> str:
    """A versioned bucket without event notifications: no cleanup Lambda races the test's own."""
    s3 = local_aws.session().client("s3")
    name = f"store-rules-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


# --- the conditional write --------------------------------------------------------------------------


def test_an_error_other_than_a_refused_condition_is_raised_as_it_is(
    repository: ResultsRepository, owner: str
) -> None:
    missing = ResultsRepository(repository.client, "no-such-table")
    with pytest.raises(ClientError) as raised:
        missing.put_if_newer(competing_record(owner, ImageStatus.LABELED, "0A", execution="first"))
    assert not isinstance(raised.value, StorageThrottled)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def _requests(client: Any, operation: str) -> list[dict[str, Any]]:
    """The parameters of every ``operation`` call ``client`` makes from now on."""
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        f"provide-client-params.dynamodb.{operation}",
        lambda params, **_: sent.append(dict(params)),
        unique_id=f"record-{operation}-{id(sent)}",
    )
    return sent


def test_reads_are_consistent_and_an_absent_record_is_none(repository: ResultsRepository, owner: str) -> None:
    written = competing_record(owner, ImageStatus.LABELED, "0A", execution="first")
    assert repository.put_if_newer(written)
    gets, batch_gets = _requests(repository.client, "GetItem"), _requests(repository.client, "BatchGetItem")

    assert repository.get(owner, written.image_name) == written
    assert repository.get(owner, f"uploads/{owner}/absent.jpg") is None
    assert repository.statuses([(owner, written.image_name)]) == {
        (owner, written.image_name): (ImageStatus.LABELED, written.timestamp)
    }

    assert [request["ConsistentRead"] for request in gets] == [True, True]
    assert [next(iter(r["RequestItems"].values()))["ConsistentRead"] for r in batch_gets] == [True]


# --- progress ---------------------------------------------------------------------------------------


def _ref(owner: str, key: str | None = None) -> ObjectRef:
    return ObjectRef(
        bucket="photos",
        key=key or f"uploads/{owner}/a.jpg",
        version_id="v1",
        etag="etag1",
        size=4321,
        sequencer=normalize_sequencer("0A"),
        request_id="REQ1",
    )


def test_a_progress_mark_stores_the_version_as_processing_in_its_stage(
    progress: Progress, repository: ResultsRepository, owner: str, execution: ExecutionRef
) -> None:
    before = pipeline.utc_now_iso()
    assert progress.mark(_ref(owner), Stage.LABELING, "Café.jpg") is True
    after = pipeline.utc_now_iso()

    stored = repository.get(owner, f"uploads/{owner}/a.jpg")
    assert stored is not None
    assert before <= stored.timestamp <= after
    assert stored == ResultRecord(
        owner=owner,
        image_name=f"uploads/{owner}/a.jpg",
        bucket="photos",
        status=ImageStatus.PROCESSING,
        stage=Stage.LABELING,
        timestamp=stored.timestamp,
        uploaded_at="2030-01-01T00:00:00.123Z",
        original_name="Café.jpg",
        size=4321,
        etag="etag1",
        version_id="v1",
        sequencer=normalize_sequencer("0A"),
        execution_id=execution.id,
    )


def test_a_progress_mark_is_refused_once_the_version_has_a_final_outcome(
    progress: Progress, repository: ResultsRepository, owner: str
) -> None:
    final = competing_record(owner, ImageStatus.LABELED, "0A", execution="first")
    assert repository.put_if_newer(final.model_copy(update={"bucket": "photos"}))

    assert progress.mark(_ref(owner), Stage.LABELING) is False
    stored = repository.get(owner, f"uploads/{owner}/a.jpg")
    assert stored is not None and stored.status is ImageStatus.LABELED


def test_a_progress_mark_of_a_key_outside_uploads_is_unowned(
    progress: Progress, repository: ResultsRepository, owner: str
) -> None:
    key = f"elsewhere/{owner}.jpg"
    assert progress.mark(_ref(owner, key), Stage.LABELING)
    stored = repository.get(UNOWNED, key)
    assert stored is not None
    assert (stored.owner, stored.original_name) == (UNOWNED, None)


# --- validate -----------------------------------------------------------------------------------------


@dataclass
class _Ledger:
    """Records the charges a DailyQuota makes and refuses none."""

    charges: list[tuple[str, str, date, int, int]] = field(default_factory=list)

    def charge(self, image: str, owner: str, day: date, owner_limit: int, global_limit: int) -> None:
        self.charges.append((image, owner, day, owner_limit, global_limit))


@pytest.fixture
def ledger() -> _Ledger:
    return _Ledger()


@pytest.fixture
def quota(ledger: _Ledger) -> DailyQuota:
    return DailyQuota(ledger, per_owner=10, overall=500)


def _source(s3: S3Client, event: dict[str, Any]) -> S3ObjectSource:
    return S3ObjectSource(s3, UploadEvent.model_validate(event).object_ref())


def test_a_key_outside_uploads_is_rejected_before_anything_is_read(
    s3: S3Client, stack: LocalResources, progress: Progress, quota: DailyQuota, ledger: _Ledger, owner: str
) -> None:
    key = f"elsewhere/{owner}.jpg"
    event = runner.upload(s3, stack.upload_bucket, key, photo_like(100, 100))
    source = _source(s3, event)

    with pytest.raises(ImageRejected) as raised:
        validate_object(source, progress, quota)

    assert (raised.value.code, raised.value.reason) == (
        RejectionCode.INVALID_KEY,
        f"The key {key!r} is not of the form uploads/<owner>/<name>.",
    )
    assert (source.bytes_read, ledger.charges) == (0, [])


def test_validate_takes_the_size_from_its_read_charges_the_version_and_marks_it_for_labeling(
    s3: S3Client,
    stack: LocalResources,
    progress: Progress,
    repository: ResultsRepository,
    quota: DailyQuota,
    ledger: _Ledger,
    owner: str,
    clock: None,
) -> None:
    key = f"uploads/{owner}/photo.jpg"
    body = photo_like(120, 90)
    event = runner.upload(s3, stack.upload_bucket, key, body, metadata={"original-name": "Caf%C3%A9.jpg"})
    event["detail"]["object"]["size"] = 1  # the event's size is not the object's
    ref = UploadEvent.model_validate(event).object_ref()

    day = datetime.now(UTC).date()
    image = validate_object(S3ObjectSource(s3, ref), progress, quota)
    days = {day, datetime.now(UTC).date()}  # the charge's UTC day (two if midnight passed meanwhile)

    read = ref.model_copy(update={"size": len(body)})
    assert image == ImageInfo(
        object=read,
        format=ImageFormat.JPEG,
        width=120,
        height=90,
        validate_ms=12.35,
        original_name="Café.jpg",
        duplicate=False,
    )
    (charged, charged_owner, charged_day, owner_limit, global_limit), *more = ledger.charges
    assert (charged, charged_owner, owner_limit, global_limit, more) == (
        f"{stack.upload_bucket}/{key}#{ref.sequencer}",
        owner,
        10,
        500,
        [],
    )
    assert charged_day in days
    stored = repository.get(owner, key)
    assert stored is not None
    assert (stored.status, stored.stage, stored.size, stored.original_name, stored.sequencer) == (
        ImageStatus.PROCESSING,
        Stage.LABELING,
        len(body),
        "Café.jpg",
        ref.sequencer,
    )


def test_a_version_with_a_final_outcome_is_a_duplicate_and_charged_nothing(
    s3: S3Client,
    stack: LocalResources,
    progress: Progress,
    repository: ResultsRepository,
    quota: DailyQuota,
    ledger: _Ledger,
    owner: str,
) -> None:
    key = f"uploads/{owner}/again.jpg"
    event = runner.upload(s3, stack.upload_bucket, key, photo_like(100, 100))
    ref = UploadEvent.model_validate(event).object_ref()
    labeled = ResultRecord(
        owner=owner,
        image_name=key,
        bucket=ref.bucket,
        status=ImageStatus.LABELED,
        timestamp="2030-01-01T00:00:00.000Z",
        uploaded_at="2030-01-01T00:00:00.000Z",
        size=ref.size,
        etag=ref.etag,
        sequencer=ref.sequencer,
        execution_id="earlier",
    )
    assert repository.put_if_newer(labeled)

    image = validate_object(S3ObjectSource(s3, ref), progress, quota)

    assert (image.duplicate, image.width, ledger.charges) == (True, 100, [])
    assert repository.get(owner, key) == labeled


def test_a_retried_validate_of_an_open_version_is_charged_again_for_the_ledger_to_ignore(
    s3: S3Client, stack: LocalResources, progress: Progress, quota: DailyQuota, ledger: _Ledger, owner: str
) -> None:
    key = f"uploads/{owner}/retried.jpg"
    event = runner.upload(s3, stack.upload_bucket, key, photo_like(100, 100))

    first = validate_object(_source(s3, event), progress, quota)
    second = validate_object(_source(s3, event), progress, quota)

    assert (first.duplicate, second.duplicate) == (False, False)
    names = [charge[0] for charge in ledger.charges]
    assert len(names) == 2 and names[0] == names[1]  # the same name: the ledger counts it once


# --- label ------------------------------------------------------------------------------------------


def test_labels_are_trimmed_to_the_payload_budget_timed_and_stamped_with_their_settings(
    local_aws: LocalAws, owner: str, clock: None
) -> None:
    backend = RekognitionBackend(client=local_aws.session().client("rekognition"))
    image = ImageInfo(object=_ref(owner), format=ImageFormat.JPEG, width=100, height=100)
    full = backend.detect_labels(image.object)
    assert full.labels  # moto answers with one label
    budget = len(full.model_copy(update={"labels": []}).model_dump_json())

    settings = "rekognition max_labels=10 min_confidence=70"
    result = label_image(image, backend, max_payload_bytes=budget, label_settings=settings)

    assert result == LabelResult(
        labels=[],
        label_model_version=full.label_model_version,
        backend=full.backend,
        label_ms=12.35,
        label_settings=settings,
    )
    unbounded = label_image(image, backend, max_payload_bytes=100_000, label_settings=settings)
    assert unbounded.labels == full.trimmed(100_000).labels


# --- store ------------------------------------------------------------------------------------------


def _state(owner: str, **extra: object) -> PipelineState:
    event = build_object_created_event(
        bucket="photos", key=f"uploads/{owner}/s.jpg", size=10, etag="e", sequencer="0A", time=UPLOADED
    )
    return PipelineState.model_validate({**event, **extra})


def test_a_labeled_outcome_is_written_and_notifies_no_one(
    repository: ResultsRepository, owner: str, execution: ExecutionRef
) -> None:
    image = ImageInfo(object=_state(owner).object_ref(), format=ImageFormat.JPEG, width=100, height=100)
    labels = LabelResult(labels=[], label_model_version="3.0", backend="rekognition")
    state = _state(owner, image=image.model_dump(mode="json"), labels=labels.model_dump(mode="json"))

    first = record_outcome(state, execution, repository)
    again = record_outcome(state, execution, repository)

    assert first == StoreOutcome(status=ImageStatus.LABELED, written=True, notify=False)
    assert again == StoreOutcome(status=ImageStatus.LABELED, written=False, notify=False)
    stored = repository.get(owner, f"uploads/{owner}/s.jpg")
    assert stored is not None and stored.status is ImageStatus.LABELED


def test_a_written_rejection_notifies_once_with_its_code_and_reason(
    repository: ResultsRepository, owner: str, execution: ExecutionRef
) -> None:
    error = {"Error": "ImageRejected", "Cause": "TOO_SMALL: The image is 50x50 px."}
    state = _state(owner, error=error, failed_state="Validate")

    first = record_outcome(state, execution, repository)
    duplicate = record_outcome(state, execution, repository)

    notification = FailureNotification(
        key=f"uploads/{owner}/s.jpg",
        bucket="photos",
        owner=owner,
        status=ImageStatus.REJECTED,
        code="TOO_SMALL",
        reason="The image is 50x50 px.",
        error="ImageRejected",
        failed_state="Validate",
        execution_id=execution.id,
    )
    assert first == StoreOutcome(
        status=ImageStatus.REJECTED, written=True, notify=True, notification=notification
    )
    assert duplicate == StoreOutcome(
        status=ImageStatus.REJECTED, written=False, notify=False, notification=notification
    )


def test_a_failure_without_a_name_or_cause_is_notified_as_unknown(
    repository: ResultsRepository, owner: str, execution: ExecutionRef
) -> None:
    outcome = record_outcome(_state(owner, error={"Error": "", "Cause": ""}), execution, repository)

    assert outcome == StoreOutcome(
        status=ImageStatus.FAILED,
        written=True,
        notify=True,
        notification=FailureNotification(
            key=f"uploads/{owner}/s.jpg",
            bucket="photos",
            owner=owner,
            status=ImageStatus.FAILED,
            code="UNKNOWN",
            reason="",
            error="",
            failed_state=None,
            execution_id=execution.id,
        ),
    )


# --- cleanup ----------------------------------------------------------------------------------------


def _versions(s3: S3Client, bucket: str, key: str) -> list[str]:
    """Versions and delete markers of exactly ``key``."""
    listing: Any = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return [
        v["VersionId"]
        for kind in ("Versions", "DeleteMarkers")
        for v in listing.get(kind, [])
        if v["Key"] == key
    ]


@dataclass
class _Watching:
    """The repository, noting which versions of the key still exist when the tombstone is written."""

    inner: ResultsRepository
    s3: S3Client
    present: list[list[str]] = field(default_factory=list)

    def put_if_newer(self, record: ResultRecord) -> bool:
        self.present.append(_versions(self.s3, record.bucket, record.image_name))
        return self.inner.put_if_newer(record)


def _deletion(bucket: str, key: str, version_id: str | None) -> Deletion:
    return Deletion(
        bucket=bucket,
        key=key,
        version_id=version_id,
        sequencer=normalize_sequencer(runner.next_sequencer()),
        deletion_type=DeletionType.DELETE_MARKER_CREATED,
        time=UPLOADED,
    )


def test_a_deleted_key_is_tombstoned_first_then_every_version_and_marker_removed(
    s3: S3Client, quiet_bucket: str, repository: ResultsRepository, owner: str
) -> None:
    bucket, key = quiet_bucket, f"uploads/{owner}/gone.jpg"
    runner.upload(s3, bucket, key, photo_like(96, 96))
    runner.upload(s3, bucket, key, photo_like(96, 96, seed=3))
    runner.upload(s3, bucket, f"{key}.kept", photo_like(96, 96))
    marker = s3.delete_object(Bucket=bucket, Key=key)["VersionId"]
    everything = _versions(s3, bucket, key)
    watching = _Watching(repository, s3)
    deletion = _deletion(bucket, key, marker)
    started = datetime.now(UTC)

    forgotten = forget_deleted(deletion, ObjectVersions(s3), watching)

    assert forgotten == Forgotten(tombstoned=True, versions_removed=3)
    assert watching.present == [everything]  # the tombstone went first
    assert _versions(s3, bucket, key) == []
    assert len(_versions(s3, bucket, f"{key}.kept")) == 1
    stored = repository.get(owner, key)
    assert stored is not None
    assert (stored.status, stored.version_id, stored.sequencer) == (
        ImageStatus.DELETED,
        marker,
        deletion.sequencer,
    )
    assert stored.expires_at is not None
    assert stored.expires_at - int(started.timestamp()) in range(86_400, 86_400 + 60)


def test_a_key_that_still_has_a_current_version_is_left_alone(
    s3: S3Client, quiet_bucket: str, repository: ResultsRepository, owner: str
) -> None:
    bucket, key = quiet_bucket, f"uploads/{owner}/kept.jpg"
    older = runner.upload(s3, bucket, key, photo_like(96, 96))["detail"]["object"]["version-id"]
    runner.upload(s3, bucket, key, photo_like(96, 96, seed=3))
    s3.delete_object(Bucket=bucket, Key=key, VersionId=older)  # a non-current version, permanently
    left = _versions(s3, bucket, key)

    forgotten = forget_deleted(_deletion(bucket, key, older), ObjectVersions(s3), repository)

    assert forgotten == Forgotten(still_present=True)
    assert _versions(s3, bucket, key) == left
    assert repository.get(owner, key) is None


def test_a_delete_older_than_the_stored_outcome_writes_no_tombstone_but_removes_the_versions(
    s3: S3Client, quiet_bucket: str, repository: ResultsRepository, owner: str
) -> None:
    bucket, key = quiet_bucket, f"uploads/{owner}/newer.jpg"
    runner.upload(s3, bucket, key, photo_like(96, 96))
    marker = s3.delete_object(Bucket=bucket, Key=key)["VersionId"]
    deletion = _deletion(bucket, key, marker)
    newer = competing_record(owner, ImageStatus.LABELED, "F" * 40, execution="newer").model_copy(
        update={"image_name": key}
    )
    assert repository.put_if_newer(newer)

    forgotten = forget_deleted(deletion, ObjectVersions(s3), repository)

    assert forgotten == Forgotten(tombstoned=False, versions_removed=2)
    assert _versions(s3, bucket, key) == []
    assert repository.get(owner, key) == newer


#: Noon in New York the day before summer time starts there (2030-03-10): the next noon is 23 hours later.
BEFORE_SUMMER_TIME = datetime(2030, 3, 9, 17, 0, tzinfo=UTC)


class _Clock(datetime):
    """``datetime`` whose now() is BEFORE_SUMMER_TIME, naive (local) or in the zone asked for."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Self:
        return cls.fromtimestamp(BEFORE_SUMMER_TIME.timestamp(), tz)


@pytest.fixture
def new_york_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The host's local time is New York's (with summer time) and the pipeline's clock is stopped."""
    monkeypatch.setenv("TZ", "EST5EDT,M3.2.0,M11.1.0")
    time.tzset()
    monkeypatch.setattr(pipeline, "datetime", _Clock)
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("new_york_host")
def test_a_tombstone_expires_24_hours_later_whatever_the_hosts_summer_time(
    s3: S3Client, quiet_bucket: str, repository: ResultsRepository, owner: str
) -> None:
    key = f"uploads/{owner}/spring.jpg"
    runner.upload(s3, quiet_bucket, key, photo_like(96, 96))
    marker = s3.delete_object(Bucket=quiet_bucket, Key=key)["VersionId"]

    assert forget_deleted(_deletion(quiet_bucket, key, marker), ObjectVersions(s3), repository).tombstoned

    stored = repository.get(owner, key)
    assert stored is not None
    assert (stored.timestamp, stored.expires_at) == (
        "2030-03-09T17:00:00.000Z",
        int(datetime(2030, 3, 10, 17, 0, tzinfo=UTC).timestamp()),
    )
