"""Domain models shared by the Lambdas, the CLI and the local runtime.

These are the payloads that travel between the states of the state machine (snake_case JSON), so
every boundary is a pydantic model. They are free of AWS event shapes; ``labeler.events`` maps the
S3 EventBridge event onto them.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

UPLOAD_PREFIX = "uploads/"
#: Owner used for objects whose key is not ``uploads/<owner>/<name>``; they are rejected with INVALID_KEY.
UNOWNED = "~unowned"
#: Owners of a library bucket's objects (``library:<bucket>``): a Cognito identity id, a guest's owner,
#: starts with its region, so no guest is ever one.
LIBRARY_OWNER_PREFIX = "library:"


def library_owner(bucket: str) -> str:
    return f"{LIBRARY_OWNER_PREFIX}{bucket}"


class ImageFormat(StrEnum):
    """What the magic bytes say a file is (never the extension or the Content-Type)."""

    JPEG = "JPEG"
    PNG = "PNG"
    WEBP = "WebP"
    GIF = "GIF"
    HEIC = "HEIC"
    AVIF = "AVIF"
    TIFF = "TIFF"
    BMP = "BMP"
    ICO = "ICO"
    SVG = "SVG"
    PDF = "PDF"
    HTML = "HTML"
    NOT_AN_IMAGE = "not-an-image"


class ImageStatus(StrEnum):
    """PROCESSING while the pipeline runs; then one of the three terminal outcomes. DELETED is the
    tombstone of an upload that was deleted: no labels, no name, gone after a day (TTL)."""

    PROCESSING = "PROCESSING"
    LABELED = "LABELED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    DELETED = "DELETED"

    @property
    def is_failure(self) -> bool:
        return self in (ImageStatus.REJECTED, ImageStatus.FAILED)


class Stage(StrEnum):
    """Where a PROCESSING image is. Before validate has accepted an image there is no record at
    all: clients show that as "validating"."""

    LABELING = "LABELING"


class ExecutionStatus(StrEnum):
    """Step Functions' execution statuses."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    PENDING_REDRIVE = "PENDING_REDRIVE"

    @property
    def finished(self) -> bool:
        """SUCCEEDED, FAILED, TIMED_OUT or ABORTED: the execution will not change any more (short of a
        redrive, which makes it RUNNING again)."""
        return self in _FINISHED_EXECUTIONS


_FINISHED_EXECUTIONS = frozenset(
    {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED}
)


class Limit(StrEnum):
    """Which daily limit refused a charge."""

    OWNER = "owner"
    GLOBAL = "global"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ObjectRef(Frozen):
    """One version of one uploaded object, as named by its S3 event."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str = ""
    size: int = 0
    sequencer: str = ""
    #: S3's request id of the upload: the correlation id that ties the three tasks of one image together.
    request_id: str = ""
    #: In a library bucket of the operator's (a backfill's source), not the upload bucket: any key is an
    #: image, and the whole bucket has one owner.
    library: bool = False

    @property
    def owner(self) -> str | None:
        """The ``<owner>`` of ``uploads/<owner>/<name>``, or None when the key is not of that form; a
        library object's owner is its bucket's."""
        if self.library:
            return library_owner(self.bucket)
        if not self.key.startswith(UPLOAD_PREFIX):
            return None
        owner, _, name = self.key[len(UPLOAD_PREFIX) :].partition("/")
        return owner if owner and name else None


class ObjectHead(Frozen):
    """The current version of an object, as HeadObject tells it."""

    bucket: str
    key: str
    version_id: str | None = None
    #: Unquoted.
    etag: str
    size: int
    last_modified: datetime


class DeletionType(StrEnum):
    """``detail.deletion-type`` of an S3 "Object Deleted" event."""

    DELETE_MARKER_CREATED = "Delete Marker Created"
    PERMANENTLY_DELETED = "Permanently Deleted"


class Deletion(Frozen):
    """One deletion of an uploaded object, as named by its S3 "Object Deleted" event."""

    bucket: str
    key: str
    #: The delete marker's version id, or the permanently deleted version's.
    version_id: str | None = None
    sequencer: str
    deletion_type: DeletionType
    request_id: str = ""
    time: datetime

    @property
    def owner(self) -> str | None:
        return ObjectRef(bucket=self.bucket, key=self.key).owner


class ImageInfo(Frozen):
    """Output of validate: the object plus what its header says."""

    object: ObjectRef
    format: ImageFormat
    width: int
    height: int
    validate_ms: float = 0.0
    #: The uploader's file name (S3 metadata ``original-name``, URL-decoded), if it sent one.
    original_name: str | None = None
    #: True when a LABELED/REJECTED outcome of this version, or a newer version, is already stored:
    #: the state machine then skips labeling (no second Rekognition charge for a duplicate event).
    duplicate: bool = False


class BoundingBox(Frozen):
    """Ratios of the image's width and height, as Rekognition returns them."""

    width: float
    height: float
    left: float
    top: float


class Instance(Frozen):
    bounding_box: BoundingBox
    confidence: float


class Label(Frozen):
    name: str
    confidence: float = Field(ge=0, le=100)
    parents: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    instances: list[Instance] = Field(default_factory=list)


class LabelResult(Frozen):
    labels: list[Label]
    label_model_version: str
    backend: str
    label_ms: float = 0.0
    #: ``Settings.label_settings`` of the function that labeled (stamped by the pipeline, not the backend).
    label_settings: str | None = None

    def trimmed(self, max_bytes: int, max_instances: int = 10) -> LabelResult:
        """Bound the payload well under Step Functions' 256 KB state limit.

        Instances are capped per label; if the result is still too big, instances go first, then the
        lowest-confidence labels.
        """
        labels = sorted(self.labels, key=lambda label: label.confidence, reverse=True)
        labels = [label.model_copy(update={"instances": label.instances[:max_instances]}) for label in labels]
        result = self.model_copy(update={"labels": labels})
        if len(result.model_dump_json()) <= max_bytes:
            return result
        labels = [label.model_copy(update={"instances": []}) for label in labels]
        while labels and len(self.model_copy(update={"labels": labels}).model_dump_json()) > max_bytes:
            labels.pop()
        return self.model_copy(update={"labels": labels})


class BackfillContext(Frozen):
    """What an execution started by a backfill run carries beside its object (the input's ``backfill``)."""

    #: The run's name: its records carry it (``ResultRecord.backfill_run``).
    run: str
    #: When the run's plan step decided this object: the start of its end-to-end time (the object's
    #: upload may be years old).
    planned_at: datetime
    #: Whether the site's daily limit counts this image. Per-owner quotas never apply to an operator's run.
    global_quota: bool = True
    #: The object is in the deployment's library bucket, not an upload (``ObjectRef.library``).
    library: bool = False


class TaskError(Frozen):
    """The ``{"Error", "Cause"}`` object that a Step Functions Catch puts at its ResultPath."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    error: str = Field(alias="Error")
    cause: str = Field(default="", alias="Cause")

    @property
    def public_cause(self) -> str:
        """Cause without the Lambda stack trace (server file paths): records are readable by guests."""
        try:
            payload = json.loads(self.cause)
        except ValueError:
            return self.cause
        if isinstance(payload, dict) and "stackTrace" in payload:
            return json.dumps({k: v for k, v in payload.items() if k != "stackTrace"})
        return self.cause

    @property
    def message(self) -> str:
        """The Lambda ``errorMessage`` inside Cause when Cause is a Lambda error payload, else Cause."""
        try:
            payload = json.loads(self.cause)
        except ValueError:
            return self.cause
        if isinstance(payload, dict) and isinstance(payload.get("errorMessage"), str):
            return str(payload["errorMessage"])
        return self.cause


class ExecutionRef(Frozen):
    """``$$.Execution`` fields the store task needs (passed by the ASL)."""

    id: str
    name: str = ""
    start_time: str = ""


class Timings(Frozen):
    validate_ms: float | None = None
    label_ms: float | None = None
    end_to_end_ms: float | None = None


class ResultRecord(Frozen):
    """One row of the results table: the latest terminal outcome for one object key."""

    owner: str
    image_name: str
    bucket: str
    status: ImageStatus
    timestamp: str
    uploaded_at: str
    stage: Stage | None = None
    original_name: str | None = None
    size: int
    etag: str
    version_id: str | None = None
    sequencer: str
    execution_id: str
    format: ImageFormat | None = None
    width: int | None = None
    height: int | None = None
    labels: list[Label] = Field(default_factory=list)
    label_model_version: str | None = None
    label_backend: str | None = None
    #: What the labels were made with (backend, model, thresholds): a backfill's ``stale`` compares it.
    label_settings: str | None = None
    timings: Timings = Field(default_factory=Timings)
    error_code: str | None = None
    reason: str | None = None
    error: str | None = None
    cause: str | None = None
    failed_state: str | None = None
    #: The backfill run that labeled this version (None for an upload's own execution).
    backfill_run: str | None = None
    #: Epoch seconds after which DynamoDB's TTL deletes the item: set on DELETED tombstones only.
    expires_at: int | None = None


class FailureNotification(Frozen):
    """Body of the SNS message published for a REJECTED or FAILED image."""

    key: str
    bucket: str
    owner: str
    status: ImageStatus
    code: str
    reason: str
    error: str
    failed_state: str | None
    execution_id: str


class StoreOutcome(Frozen):
    """What the store task returns to the state machine."""

    status: ImageStatus
    written: bool
    #: True when an SNS message must go out: a failure record was written (not a duplicate, not stale).
    notify: bool
    notification: FailureNotification | None = None


class Forgotten(Frozen):
    """What the cleanup did for one deletion."""

    #: The key still has a current version: nothing was removed.
    still_present: bool = False
    tombstoned: bool = False
    versions_removed: int = 0


class VersionEntry(Frozen):
    """One version or delete marker of an S3 key."""

    version_id: str
    is_latest: bool
    is_delete_marker: bool
