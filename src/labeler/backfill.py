"""Backfill: whether a backfill run labels an object that already exists, decided from its one record.

A backfill lists objects and sends each through the same pipeline as an upload. Whether an object
needs it is decided per object, from its record alone (one consistent read, never the whole table),
by the run's mode. An object is "the same" as its record when it has the record's content (ETag):
re-uploading identical bytes changes nothing a label depends on.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from labeler.errors import BackfillItemFailed, RejectionCode
from labeler.events import UploadedObject, UploadEvent, encode_event_key, execution_arn, normalize_sequencer
from labeler.models import (
    UPLOAD_PREFIX,
    BackfillContext,
    Frozen,
    ImageStatus,
    ObjectHead,
    ObjectRef,
    ResultRecord,
    Stage,
)
from labeler.pipeline import CLAIM_LIFETIME, iso_timestamp
from labeler.ports import ExecutionLookup, ObjectHeads, RecordClaims


class BackfillMode(StrEnum):
    #: No LABELED or REJECTED outcome of the object as it is now.
    MISSING = "missing"
    #: Its outcome is FAILED (or a claim whose execution stopped without one).
    FAILED = "failed"
    #: LABELED with other label settings (backend, model, thresholds) than the pipeline's now.
    STALE = "stale"
    #: Every object, whatever its record says.
    ALL = "all"


#: Appended to a sequencer to order a backfill's records after that sequencer and before every later
#: real one: S3 sequencers are hexadecimal of one width, and this sorts after every hex digit.
BACKFILL_SEQUENCER_MARK = "~"

#: Which modes label an object of the same content, by its record's status (claims still live aside).
_LABELS: dict[ImageStatus, frozenset[BackfillMode]] = {
    ImageStatus.LABELED: frozenset({BackfillMode.ALL}),  # and STALE, when the settings differ
    ImageStatus.REJECTED: frozenset({BackfillMode.ALL}),
    ImageStatus.FAILED: frozenset({BackfillMode.MISSING, BackfillMode.FAILED, BackfillMode.ALL}),
    # A claim whose execution stopped without an outcome: a failure that left no record.
    ImageStatus.PROCESSING: frozenset({BackfillMode.MISSING, BackfillMode.FAILED, BackfillMode.ALL}),
}
#: Modes that label an object with no outcome of its content (no record, another content, deleted).
_LABELS_UNRECORDED = frozenset({BackfillMode.MISSING, BackfillMode.ALL})


class Labeling(Frozen):
    """What an object's record is compared with: the object now, and how the pipeline labels now."""

    #: The object's content now (HeadObject's ETag, unquoted).
    etag: str
    #: ``Settings.label_settings`` of the label function.
    label_settings: str
    #: The label model's version now, when known (the operator's, or the bundled model's): records of
    #: another are ``stale``. Unknown (Rekognition's is only told with its answers): not compared.
    model_version: str | None = None
    #: The execution holding a PROCESSING claim on the record is known not to be running (it stopped,
    #: or was never started): the claim is abandoned, however young.
    claimant_stopped: bool = False


class BackfillDecision(Frozen):
    label: bool
    #: Why, in words for the operator (and the dry run's counts).
    reason: str
    #: The sequencer the object's records carry (S3 tells a backfill none): the record's own for the
    #: same content, else one that orders after the record and before any later upload of the key.
    sequencer: str


def decide(mode: BackfillMode, stored: ResultRecord | None, now: Labeling, at: datetime) -> BackfillDecision:
    """Whether a ``mode`` backfill labels the object whose record is ``stored``, at time ``at``.

    A claim still live (an execution is labeling this content) is always left alone.
    """
    same = stored is not None and stored.status is not ImageStatus.DELETED and stored.etag == now.etag
    if stored is None or not same:
        after = normalize_sequencer(stored.sequencer if stored else "") + BACKFILL_SEQUENCER_MARK
        if mode in _LABELS_UNRECORDED:
            why = "never labeled" if stored is None else _unrecorded(stored)
            return BackfillDecision(label=True, reason=why, sequencer=after)
        return BackfillDecision(label=False, reason=f"no outcome to {mode.value} yet", sequencer=after)
    status = stored.status
    live = datetime.fromisoformat(stored.timestamp) >= at - CLAIM_LIFETIME and not now.claimant_stopped
    if status is ImageStatus.PROCESSING and live:
        return _decided(stored, "being labeled now", label=False)
    if status is ImageStatus.LABELED and mode is BackfillMode.STALE:
        if stored.label_settings != now.label_settings:
            return _decided(stored, "labeled with other settings", label=True)
        if now.model_version is not None and stored.label_model_version != now.model_version:
            return _decided(stored, "labeled by another model", label=True)
        return _decided(stored, "labeled with the current settings", label=False)
    if _refused_by_quota(stored):
        return _decided(stored, QUOTA_REFUSED, label=mode in _LABELS[ImageStatus.FAILED])
    why = "abandoned while labeling" if status is ImageStatus.PROCESSING else status.value
    return _decided(stored, why, label=mode in _LABELS[status])


#: The reason of an object a daily limit refused: a failure to label it, not an outcome of its content.
QUOTA_REFUSED = "refused by a daily limit"


def _refused_by_quota(stored: ResultRecord) -> bool:
    return stored.status is ImageStatus.REJECTED and stored.error_code == RejectionCode.QUOTA_EXCEEDED


def _unrecorded(stored: ResultRecord) -> str:
    return (
        "deleted, then uploaded again" if stored.status is ImageStatus.DELETED else "changed since its record"
    )


def _decided(stored: ResultRecord, why: str, *, label: bool) -> BackfillDecision:
    """A decision on the object's own content: it keeps its record's sequencer."""
    return BackfillDecision(label=label, reason=why, sequencer=stored.sequencer)


# --- the plan step: one listed object -------------------------------------------------------------

#: The plan's reason for an object outside ``uploads/<owner>/`` (a dry run's too).
NOT_AN_UPLOAD = "not an upload (uploads/<owner>/<name>)"


class BackfillRun(Frozen):
    """A backfill run's settings: its execution's input ``run``, which the map passes to every item."""

    #: Names the run's records (``BackfillRun``), its quota counter and its pipeline executions.
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    bucket: str
    prefix: str = UPLOAD_PREFIX
    #: ``bucket`` is the deployment's library bucket (the operator's own photos), not the upload bucket:
    #: every key is an image, owned by ``library:<bucket>``.
    library: bool = False
    mode: BackfillMode = BackfillMode.MISSING
    global_quota: bool = True
    #: The label model version ``stale`` compares records with, when the operator knows it.
    model_version: str | None = None
    #: Items in flight at once (the map's MaxConcurrencyPath): the default stays under a fresh
    #: account's DetectLabels rate (5 TPS in most regions), as the label function's reserved concurrency.
    max_concurrency: int = Field(default=5, ge=1, le=10_000)
    #: Failed items, in percent of all, past which the run stops (ToleratedFailurePercentagePath).
    tolerated_failure_percentage: float = Field(default=5.0, ge=0, le=100)

    def owner(self, key: str) -> str | None:
        """The owner of the records of this run's object ``key`` (None: not an upload's key)."""
        return ObjectRef(bucket=self.bucket, key=key, library=self.library).owner


class ListedObject(Frozen):
    """One ListObjectsV2 entry. The map's ItemSelector passes only the key (the plan reads the rest
    with HeadObject, which also names the version); a dry run keeps the listing's ETag."""

    key: str
    etag: str = ""


class PlannedItem(Frozen):
    key: str
    label: bool
    reason: str
    #: The pipeline execution to start (with ``input``) when ``label``: its claim is already written.
    name: str | None = None
    input: dict[str, Any] | None = None


def plan_item(
    item: ListedObject,
    run: BackfillRun,
    pipeline_arn: str,
    *,
    heads: ObjectHeads,
    records: RecordClaims,
    executions: ExecutionLookup,
    label_settings: str,
    now: datetime,
) -> PlannedItem:
    """Decide one listed object and, when it is to be labeled, claim its record for the pipeline
    execution that will label it (so an upload event of the same content meanwhile labels nothing)."""
    owner = run.owner(item.key)
    if owner is None:
        return PlannedItem(key=item.key, label=False, reason=NOT_AN_UPLOAD)
    head = heads.head(run.bucket, item.key)
    if head is None:
        return PlannedItem(key=item.key, label=False, reason="deleted since it was listed")
    stored = records.get(owner, item.key)
    labeling = Labeling(
        etag=head.etag,
        label_settings=label_settings,
        model_version=run.model_version,
        claimant_stopped=_claimant_stopped(stored, executions),
    )
    decision = decide(run.mode, stored, labeling, now)
    if not decision.label:
        return PlannedItem(key=item.key, label=False, reason=decision.reason)
    name = _execution_name(run, item.key, stored)
    claim = _claim(head, owner, decision.sequencer, execution_arn(pipeline_arn, name), run, now)
    if not records.put_replacing(claim, stored):
        return PlannedItem(key=item.key, label=False, reason="its record changed while planning")
    context = BackfillContext(
        run=run.name, planned_at=now, global_quota=run.global_quota, library=run.library
    )
    return PlannedItem(
        key=item.key,
        label=True,
        reason=decision.reason,
        name=name,
        input=_pipeline_input(head, decision.sequencer, name, context),
    )


def _claimant_stopped(stored: ResultRecord | None, executions: ExecutionLookup) -> bool:
    if stored is None or stored.status is not ImageStatus.PROCESSING:
        return False
    # Never started (None): a plan that claimed and then failed, was retried, or whose run stopped. A
    # plan of another run that is starting it now loses nothing to a second claim: its execution finds
    # the newer claim live and labels nothing.
    return not executions.running(stored.execution_id)


def _execution_name(run: BackfillRun, key: str, stored: ResultRecord | None) -> str:
    """One name per run, key and record read: a redriven plan of the same item, which reads the
    claim of the first, names another execution."""
    read = f"{key}\n{stored.execution_id}@{stored.timestamp}" if stored else key
    return f"{run.name}-{hashlib.sha256(read.encode()).hexdigest()[:16]}"


def _claim(
    head: ObjectHead, owner: str, sequencer: str, execution: str, run: BackfillRun, now: datetime
) -> ResultRecord:
    return ResultRecord(
        owner=owner,
        image_name=head.key,
        bucket=head.bucket,
        status=ImageStatus.PROCESSING,
        stage=Stage.LABELING,
        timestamp=iso_timestamp(now),
        uploaded_at=iso_timestamp(head.last_modified),
        size=head.size,
        etag=head.etag,
        version_id=head.version_id,
        sequencer=sequencer,
        execution_id=execution,
        backfill_run=run.name,
    )


def _pipeline_input(head: ObjectHead, sequencer: str, name: str, context: BackfillContext) -> dict[str, Any]:
    """The pipeline's input for this object: an upload's, as the upload rule makes it, plus ``backfill``."""
    event = UploadEvent(
        time=head.last_modified,
        object=UploadedObject(
            bucket=head.bucket,
            key=encode_event_key(head.key),
            version_id=head.version_id,
            etag=head.etag,
            size=head.size,
            sequencer=sequencer,
            request_id=name,
        ),
        backfill=context,
    )
    return event.model_dump(mode="json")


# --- after a failed pipeline execution ------------------------------------------------------------


#: Outcomes that end an item: its image's own (labeled, or not an image we can label), or a deletion.
_SETTLED = frozenset({ImageStatus.LABELED, ImageStatus.REJECTED, ImageStatus.DELETED})


def settle(run: BackfillRun, key: str, records: RecordClaims) -> ImageStatus:
    """The outcome of an item whose pipeline execution failed. A REJECTED image is done (it is not an
    image we can label: the map does not count it as a failure), unless a daily limit refused it;
    anything else raises :class:`BackfillItemFailed` with the record's reason."""
    owner = run.owner(key)
    record = records.get(owner, key) if owner else None
    if record is not None and record.status in _SETTLED and not _refused_by_quota(record):
        return record.status
    if record is None:
        raise BackfillItemFailed(f"{key}: no record")
    why = " ".join(part for part in (record.status.value, record.error_code) if part)
    raise BackfillItemFailed(f"{key}: {why}: {record.reason}" if record.reason else f"{key}: {why}")
