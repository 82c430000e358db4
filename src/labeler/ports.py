"""What the pipeline logic needs from the world, as small protocols.

``labeler.aws`` implements them with boto3, ``labeler.labels`` holds the label backends,
``labeler.faults`` wraps them to rehearse outages, and ``labeler.wiring`` composes them for the handlers.
``labeler.pipeline`` sees only these.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol, runtime_checkable

from labeler.imaging import ByteSource
from labeler.models import LabelResult, Limit, ObjectHead, ObjectRef, ResultRecord, VersionEntry


class UploadedObject(ByteSource, Protocol):
    """One version of an uploaded object: its bytes (ranged reads), its size and the uploader's file name."""

    @property
    def ref(self) -> ObjectRef: ...

    @property
    def original_name(self) -> str | None: ...


class ObjectVersionStore(Protocol):
    """Every version and delete marker of a key, and their removal (the cleanup of a deleted upload)."""

    def of(self, bucket: str, key: str) -> list[VersionEntry]: ...

    def delete(self, bucket: str, key: str, version_ids: list[str]) -> None: ...


class ResultWriter(Protocol):
    """Records outcomes: a write that loses to a newer or final outcome of the same object is dropped."""

    def put_if_newer(self, record: ResultRecord) -> bool: ...


class RecordClaims(Protocol):
    """A key's one record, read consistently, and replaced only if it is still what was read."""

    def get(self, owner: str, image_name: str) -> ResultRecord | None: ...

    def put_replacing(self, record: ResultRecord, previous: ResultRecord | None) -> bool: ...


class ObjectHeads(Protocol):
    """The current version of a key (None: there is none)."""

    def head(self, bucket: str, key: str) -> ObjectHead | None: ...


class ExecutionLookup(Protocol):
    """Whether an execution is running: None when there is no such execution (never started)."""

    def running(self, execution_arn: str) -> bool | None: ...


class UsageLedger(Protocol):
    """Counts charged image versions per owner and day; answers which limit refused a charge, if any."""

    def charge(
        self, image: str, owner: str, day: date, owner_limit: int, global_limit: int
    ) -> Limit | None: ...


@runtime_checkable
class LabelBackend(Protocol):
    """Detects labels in one image stored in S3.

    Implementations return labels in Rekognition's schema (title-cased names, confidence in percent,
    parents/aliases/categories/instances present even if empty) and raise the typed errors of
    ``labeler.errors``: LabelServiceThrottled (retried by the state machine), ImageRejected
    (permanent, the image's fault), LabelBackendMisconfigured (permanent, not the image's fault).
    """

    @property
    def name(self) -> str: ...

    def warm_up(self) -> None:
        """Do the slow part of the first call now (the init phase): load a model, open a client."""

    def detect_labels(self, image: ObjectRef) -> LabelResult: ...
