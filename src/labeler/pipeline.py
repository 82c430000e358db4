"""The three pipeline steps as plain functions: no Lambda context, no event shapes, dependencies passed in."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from labeler.blueprint import PIPELINE_TIMEOUT_SECONDS
from labeler.errors import ImageRejected, RejectionCode
from labeler.events import PipelineState
from labeler.imaging import HEADER_BYTES, inspect_image
from labeler.models import (
    UNOWNED,
    Deletion,
    ExecutionRef,
    FailureNotification,
    Forgotten,
    ImageInfo,
    ImageStatus,
    LabelResult,
    ObjectRef,
    ResultRecord,
    Stage,
    StoreOutcome,
    Timings,
)
from labeler.ports import LabelBackend, ObjectVersionStore, ResultWriter, UploadedObject
from labeler.quota import DailyQuota


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def iso_timestamp(moment: datetime) -> str:
    """One format for every stored time (UTC, milliseconds, 'Z'), so string order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: How long a PROCESSING record claims its version for its execution: the pipeline's timeout, after
#: which that execution cannot be running any more (it died, or timed out, without an outcome).
CLAIM_LIFETIME = timedelta(seconds=PIPELINE_TIMEOUT_SECONDS)


def oldest_live_claim(record: ResultRecord) -> datetime:
    """Claims written before this time were expired when ``record`` was made."""
    return datetime.fromisoformat(record.timestamp) - CLAIM_LIFETIME


def utc_now_iso() -> str:
    return iso_timestamp(datetime.now(UTC))


@dataclass(frozen=True)
class Progress:
    """Writes the PROCESSING record that the browser shows as live status (validating, labeling)."""

    repository: ResultWriter
    execution: ExecutionRef
    uploaded_at: datetime
    backfill_run: str | None = None

    def mark(self, ref: ObjectRef, stage: Stage, original_name: str | None = None) -> bool:
        """False when a final outcome of this version, or any outcome of a newer one, is stored."""
        return self.repository.put_if_newer(
            ResultRecord(
                owner=ref.owner or UNOWNED,
                image_name=ref.key,
                bucket=ref.bucket,
                status=ImageStatus.PROCESSING,
                stage=stage,
                timestamp=utc_now_iso(),
                uploaded_at=iso_timestamp(self.uploaded_at),
                size=ref.size,
                etag=ref.etag,
                version_id=ref.version_id,
                sequencer=ref.sequencer,
                execution_id=self.execution.id,
                original_name=original_name,
                backfill_run=self.backfill_run,
            )
        )


def validate_object(source: UploadedObject, progress: Progress, quota: DailyQuota) -> ImageInfo:
    """One ranged GET of at most 64 KiB; raises ImageRejected with a specific reason.

    A valid image's progress record (PROCESSING, LABELING) is written before returning; until then a
    client sees no record and shows "validating" (one write per image instead of two). When the
    table already holds a final outcome for this version or a newer one, the write is refused: the
    result says ``duplicate`` and the state machine skips labeling. Otherwise the version is charged
    to the daily quotas (QUOTA_EXCEEDED when one is used up), once: a retry, a duplicate event or a
    replay of the same version costs no quota again.
    """
    started = time.perf_counter()
    ref = source.ref
    owner = ref.owner
    if owner is None:
        raise ImageRejected(
            RejectionCode.INVALID_KEY, f"The key {ref.key!r} is not of the form uploads/<owner>/<name>."
        )
    head = source.read(0, HEADER_BYTES)  # OBJECT_GONE if it is not there any more
    size = source.size  # the whole object's, from the same GET
    header = inspect_image(source, head)
    ref = ref.model_copy(update={"size": size})
    original_name = source.original_name
    fresh = progress.mark(ref, Stage.LABELING, original_name)
    if fresh:  # not a duplicate: charged here, once per version, however often this step runs
        quota.charge(f"{ref.bucket}/{ref.key}#{ref.sequencer}", owner)
    return ImageInfo(
        object=ref,
        format=header.format,
        width=header.width,
        height=header.height,
        validate_ms=_elapsed_ms(started),
        original_name=original_name,
        duplicate=not fresh,
    )


def label_image(
    image: ImageInfo, backend: LabelBackend, max_payload_bytes: int, label_settings: str
) -> LabelResult:
    """Labels of ``image``, stamped with the ``label_settings`` they were made with."""
    started = time.perf_counter()
    result = backend.detect_labels(image.object)
    return result.trimmed(max_payload_bytes).model_copy(
        update={"label_ms": _elapsed_ms(started), "label_settings": label_settings}
    )


def _status_of(state: PipelineState) -> ImageStatus:
    if state.error is None:
        return ImageStatus.LABELED
    return ImageStatus.REJECTED if state.error.error == ImageRejected.__name__ else ImageStatus.FAILED


def build_record(state: PipelineState, execution: ExecutionRef, now: str) -> ResultRecord:
    ref = state.image.object if state.image else state.object_ref()
    status = _status_of(state)
    uploaded_at = iso_timestamp(state.time)
    started = state.backfill.planned_at if state.backfill else state.time
    end_to_end_ms = (datetime.fromisoformat(now) - started).total_seconds() * 1000
    fields: dict[str, object] = {}
    if state.error is not None:
        message = state.error.message
        code, reason = (
            ImageRejected.parse_message(message)
            if status is ImageStatus.REJECTED
            else (state.error.error, message)
        )
        fields = {
            "error_code": code,
            "reason": reason,
            "error": state.error.error,
            "cause": state.error.public_cause[:4000],
            "failed_state": state.failed_state,
        }
    return ResultRecord(
        owner=ref.owner or UNOWNED,
        image_name=ref.key,
        bucket=ref.bucket,
        status=status,
        timestamp=now,
        uploaded_at=uploaded_at,
        size=ref.size,
        etag=ref.etag,
        version_id=ref.version_id,
        sequencer=ref.sequencer,
        execution_id=execution.id,
        format=state.image.format if state.image else None,
        original_name=state.image.original_name if state.image else None,
        width=state.image.width if state.image else None,
        height=state.image.height if state.image else None,
        labels=state.labels.labels if state.labels else [],
        label_model_version=state.labels.label_model_version if state.labels else None,
        label_backend=state.labels.backend if state.labels else None,
        label_settings=state.labels.label_settings if state.labels else None,
        backfill_run=state.backfill.run if state.backfill else None,
        timings=Timings(
            validate_ms=state.image.validate_ms if state.image else None,
            label_ms=state.labels.label_ms if state.labels else None,
            end_to_end_ms=round(max(end_to_end_ms, 0.0), 1),
        ),
        **fields,
    )


def record_outcome(state: PipelineState, execution: ExecutionRef, repository: ResultWriter) -> StoreOutcome:
    """Write the terminal record (conditionally) and say whether a failure notification is due."""
    record = build_record(state, execution, utc_now_iso())
    written = repository.put_if_newer(record)
    if record.status is ImageStatus.LABELED:
        return StoreOutcome(status=record.status, written=written, notify=False)
    notification = FailureNotification(
        key=record.image_name,
        bucket=record.bucket,
        owner=record.owner,
        status=record.status,
        code=record.error_code or "UNKNOWN",
        reason=record.reason or "",
        error=record.error or "",
        failed_state=record.failed_state,
        execution_id=execution.id,
    )
    return StoreOutcome(status=record.status, written=written, notify=written, notification=notification)


#: How long a DELETED tombstone outlives the delete: longer than any execution of a deleted version
#: can still be running or waiting for delivery (EventBridge retries for 6 hours, executions last 15
#: minutes), so a late store cannot write the record back.
TOMBSTONE_TTL = timedelta(days=1)


#: The error of a claim released because its execution stopped without an outcome.
EXECUTION_STOPPED = "ExecutionStopped"


def released_claim(claim: ResultRecord, why: str, now: datetime) -> ResultRecord:
    """FAILED in place of a PROCESSING claim whose execution stopped (aborted, timed out, or lost
    with a local restart): its version is then open to a replay at once, not when the claim expires."""
    return claim.model_copy(
        update={
            "status": ImageStatus.FAILED,
            "stage": None,
            "timestamp": iso_timestamp(now),
            "error_code": EXECUTION_STOPPED,
            "error": EXECUTION_STOPPED,
            "reason": why,
        }
    )


def tombstone(deletion: Deletion, now: datetime) -> ResultRecord:
    """The record a deleted upload leaves: no labels, no name; DynamoDB's TTL removes it."""
    return ResultRecord(
        owner=deletion.owner or UNOWNED,
        image_name=deletion.key,
        bucket=deletion.bucket,
        status=ImageStatus.DELETED,
        timestamp=iso_timestamp(now),
        uploaded_at=iso_timestamp(deletion.time),
        size=0,
        etag="",
        version_id=deletion.version_id,
        sequencer=deletion.sequencer,
        execution_id="",
        expires_at=int((now + TOMBSTONE_TTL).timestamp()),
    )


def forget_deleted(deletion: Deletion, versions: ObjectVersionStore, repository: ResultWriter) -> Forgotten:
    """After a delete: tombstone the record, then remove every version and delete marker of the key.

    Nothing happens while the key still has a current version (a non-current version was deleted, or
    the key was uploaded again). The tombstone goes first and carries the delete's sequencer, so
    a labeling of the deleted version still under way is refused when it stores its outcome. A
    version uploaded after the listing is not in it and stays, with its own record.
    """
    entries = versions.of(deletion.bucket, deletion.key)
    if any(entry.is_latest and not entry.is_delete_marker for entry in entries):
        return Forgotten(still_present=True)
    tombstoned = repository.put_if_newer(tombstone(deletion, datetime.now(UTC)))
    versions.delete(deletion.bucket, deletion.key, [entry.version_id for entry in entries])
    return Forgotten(tombstoned=tombstoned, versions_removed=len(entries))
