"""The S3 "Object Created" event as EventBridge delivers it, and its mapping to domain models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote_plus, unquote_plus

from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from pydantic import Field

from labeler.models import ImageInfo, LabelResult, ObjectRef, TaskError

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
    obj: dict[str, Any] = {
        "key": encode_event_key(key),
        "size": size,
        "etag": etag.strip('"'),
        "sequencer": sequencer,
    }
    if version_id:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": (time or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
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


class ObjectCreatedEvent(S3EventNotificationEventBridgeModel):
    """EventBridge "Object Created" event from S3 (Powertools' parser model, narrowed)."""

    detail_type: Literal["Object Created"] = Field(alias="detail-type")

    def object_ref(self) -> ObjectRef:
        obj = self.detail.object
        version_id = obj.version_id if obj.version_id not in (None, "", "null") else None
        return ObjectRef(
            bucket=self.detail.bucket.name,
            key=decode_event_key(obj.key),
            version_id=version_id,
            etag=obj.etag.strip('"'),
            size=int(obj.size or 0),
            sequencer=normalize_sequencer(obj.sequencer),
            request_id=self.detail.request_id,
        )


class PipelineState(ObjectCreatedEvent):
    """The state document as it reaches the store task: the event plus what earlier states added."""

    image: ImageInfo | None = None
    labels: LabelResult | None = None
    error: TaskError | None = None
    failed_state: str | None = None
