"""S3 events as EventBridge delivers them, the slim execution input the upload rule makes of them, and
their mapping to domain models."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote_plus, unquote_plus

from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, model_validator

from labeler.blueprint import UPLOAD_INPUT_PATHS, UPLOAD_INPUT_TEMPLATE
from labeler.models import (
    BackfillContext,
    Deletion,
    DeletionType,
    ImageInfo,
    LabelResult,
    ObjectRef,
    TaskError,
)

#: Sequencers of one key compare as hex strings once right-padded with zeros to the same length
#: (S3 event docs). We store them padded to this width so DynamoDB's string comparison orders them.
SEQUENCER_WIDTH = 40


def decode_event_key(raw_key: str) -> str:
    """Decode ``detail.object.key`` exactly once.

    S3 URL-encodes keys in notifications ("red flower.jpg" arrives as "red+flower.jpg", a literal "+"
    as "%2B"), which is also how Powertools' ``S3EventBridgeNotificationObject.key`` decodes them.
    ``%20`` for a space decodes correctly too.
    """
    return unquote_plus(raw_key)


def encode_event_key(key: str) -> str:
    """The inverse of :func:`decode_event_key`: how S3 writes a key into a notification."""
    return quote_plus(key, safe="/")


def build_object_created_event(
    *,
    bucket: str,
    key: str,
    size: int,
    etag: str,
    sequencer: str,
    version_id: str | None = None,
    request_id: str = "",
    region: str = "us-east-1",
    account: str = "123456789012",
    time: datetime | None = None,
    reason: str = "PutObject",
) -> dict[str, Any]:
    """An "Object Created" event exactly as S3 delivers it through EventBridge (key URL-encoded)."""
    obj: dict[str, Any] = {"key": key, "size": size, "etag": etag.strip('"'), "sequencer": sequencer}
    if version_id:
        obj["version-id"] = version_id
    return build_s3_event(
        "Object Created", bucket=bucket, obj=obj, request_id=request_id, region=region, account=account,
        time=time, reason=reason,
    )  # fmt: skip


def build_object_deleted_event(
    *,
    bucket: str,
    key: str,
    sequencer: str,
    deletion_type: DeletionType,
    version_id: str | None = None,
    request_id: str = "",
    region: str = "us-east-1",
    account: str = "123456789012",
    time: datetime | None = None,
    reason: str = "DeleteObject",
) -> dict[str, Any]:
    """An "Object Deleted" event as S3 delivers it: the version id is the delete marker's (or the
    permanently deleted version's); there is no size or ETag."""
    obj: dict[str, Any] = {"key": key, "sequencer": sequencer}
    if version_id:
        obj["version-id"] = version_id
    event = build_s3_event(
        "Object Deleted", bucket=bucket, obj=obj, request_id=request_id, region=region, account=account,
        time=time, reason=reason,
    )  # fmt: skip
    event["detail"]["deletion-type"] = deletion_type.value
    return event


def build_s3_event(
    detail_type: str,
    *,
    bucket: str,
    obj: dict[str, Any],
    request_id: str,
    region: str,
    account: str,
    time: datetime | None,
    reason: str,
) -> dict[str, Any]:
    """An S3 event of any detail type as EventBridge delivers it; ``obj["key"]`` is URL-encoded here."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": account,
        "time": (time or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {**obj, "key": encode_event_key(obj["key"])},
            "request-id": request_id or uuid.uuid4().hex[:16].upper(),
            "requester": account,
            "source-ip-address": "127.0.0.1",
            "reason": reason,
        },
    }


def normalize_sequencer(sequencer: str | None) -> str:
    """Right-pad with zeros to a fixed width, upper-case, so plain string order is event order."""
    value = (sequencer or "").upper()
    return value.ljust(max(SEQUENCER_WIDTH, len(value)), "0")


def _version_id(value: str | None) -> str | None:
    """S3 names the version of an object in an unversioned bucket ``null``; we say None."""
    return value if value not in (None, "", "null") else None


def _json_path(document: Any, path: str) -> Any:
    """The value at a ``$.a.b-c`` path (the dotted subset EventBridge input paths use), or None."""
    value = document
    for part in path.removeprefix("$.").split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


#: The input paths :func:`transform_input` resolves: ``$.a.b-c``, names joined by dots.
DOTTED_PATH = re.compile(r"\A\$(\.[A-Za-z0-9_-]+)+\Z")


def transform_input(paths: Mapping[str, str], template: str, event: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge InputTransformer whose paths are all dotted (:data:`DOTTED_PATH`), applied to
    ``event``: each ``<name>`` in the template is replaced by the value at its path."""
    text = template
    for name, path in paths.items():
        value = _json_path(event, path)
        filled = "" if value is None else json.dumps(value) if isinstance(value, dict | list) else str(value)
        text = text.replace(f"<{name}>", filled)
    transformed: dict[str, Any] = json.loads(text)
    return transformed


def execution_input(event: dict[str, Any]) -> dict[str, Any]:
    """What the upload rule's InputTransformer makes of an "Object Created" event (the execution input).

    For starting executions ourselves (tests, replays of inputs recorded before the rule slimmed
    them), so that every execution gets the same input, without the source IP or the requester.
    An input that is already slim is returned as it is.
    """
    if "detail" not in event:
        return event
    return transform_input(UPLOAD_INPUT_PATHS, UPLOAD_INPUT_TEMPLATE, event)


#: The top-level fields of an EventBridge event; anything else next to them is state added later.
_EVENT_ENVELOPE = frozenset(
    {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
        "replay-name",
    }
)


class UploadedObject(BaseModel):
    """The ``object`` of the execution input: the S3 event's fields, key still URL-encoded."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    bucket: str
    key: str
    version_id: str | None = None
    etag: str = ""
    size: int = 0
    sequencer: str = ""
    request_id: str = ""


class UploadEvent(BaseModel):
    """The execution input (``blueprint.UPLOAD_INPUT_TEMPLATE``): one upload, as the rule passes it.

    A whole "Object Created" event is accepted too, and slimmed the way the rule does.
    """

    model_config = ConfigDict(extra="ignore")

    time: datetime
    object: UploadedObject
    #: Set when a backfill run started this execution, not an upload.
    backfill: BackfillContext | None = None

    @model_validator(mode="before")
    @classmethod
    def _slim(cls, data: Any) -> Any:
        if isinstance(data, dict) and "detail" in data:
            if data.get("detail-type") != "Object Created":
                raise ValueError(f"not an Object Created event: detail-type {data.get('detail-type')!r}")
            rest = {key: value for key, value in data.items() if key not in _EVENT_ENVELOPE}
            return {**rest, **execution_input(data)}
        return data

    def object_ref(self) -> ObjectRef:
        obj = self.object
        return ObjectRef(
            bucket=obj.bucket,
            key=decode_event_key(obj.key),
            version_id=_version_id(obj.version_id),
            etag=obj.etag.strip('"'),
            size=obj.size,
            sequencer=normalize_sequencer(obj.sequencer),
            request_id=obj.request_id,
            library=self.backfill is not None and self.backfill.library,
        )


class ObjectDeletedEvent(S3EventNotificationEventBridgeModel):
    """EventBridge "Object Deleted" event from S3 (Powertools' parser model, narrowed): cleanup's input."""

    detail_type: Literal["Object Deleted"] = Field(alias="detail-type")

    def deletion(self) -> Deletion:
        obj = self.detail.object
        return Deletion(
            bucket=self.detail.bucket.name,
            key=decode_event_key(obj.key),
            version_id=_version_id(obj.version_id),
            sequencer=normalize_sequencer(obj.sequencer),
            deletion_type=DeletionType(self.detail.deletion_type or DeletionType.DELETE_MARKER_CREATED),
            request_id=self.detail.request_id,
            time=self.time,
        )


class PipelineState(UploadEvent):
    """The state document as it reaches the store task: the event plus what earlier states added."""

    image: ImageInfo | None = None
    labels: LabelResult | None = None
    error: TaskError | None = None
    failed_state: str | None = None


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN an execution named ``name`` of this state machine has (or would have)."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
