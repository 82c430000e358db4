"""S3 (``moto.s3``): events to EventBridge as AWS sends them, and key changes made atomic.

moto sends S3 events to every bus and shapes them unlike AWS (raw key, ``eTag``, a constant
sequencer, an epoch ``time``); its PutObject and CopyObject also raise "Object Tags Added" (AWS raises
it for PutObjectTagging only); they send the creation event before the request's metadata is set
(a pipeline started by it can read the object without its ``original-name``); and a delete's event
does not say whether it removed a version or created a delete marker. ``install`` replaces
``moto.s3.notifications._send_event_bridge_message`` (the event as AWS sends it, to the default bus
only), holds back a creation's event until its request has finished (PutObject, CopyObject, POST
Object), drops the tagging event of a creation, and publishes a delete's event itself
(``S3Backend.delete_object``).

moto changes a bucket's keys without a lock: a ListObjectVersions that runs while another thread
deletes a key's last version fails with a TypeError. ``install`` serialises the backend's key changes
and listings, as S3 itself is consistent.

moto answers a browser's CORS pre-flight of an object (``OPTIONS /bucket/key``) only after its
object-ACL check: a pre-flight carries no credentials, so for an existing key it is 403 (for a
missing one, 200), and the browser then refuses to send the DELETE. S3 answers a pre-flight from the
bucket's CORS rules alone, without authentication and without looking at the object. ``install``
wraps ``S3Response._key_response`` so that an object's pre-flight is answered as S3 answers it, by
the first rule that allows its origin, method and headers, or 403 (every other request, and a
pre-flight to a missing bucket, are moto's).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from moto.core.common_types import TYPE_RESPONSE
from moto.events import models as events_models
from moto.s3 import notifications as s3_notifications
from moto.s3.exceptions import AccessForbidden, BadRequest, MissingBucket
from moto.s3.models import CorsRule, S3Backend
from moto.s3.responses import S3Response

from labeler.events import build_object_created_event, build_object_deleted_event
from labeler.models import DeletionType
from labeler_tools.local.hooks.utilities import serialise


class _Creation(threading.local):
    """The events of the creation request this thread is handling (None outside one). moto tags a new
    object through the code of PutObjectTagging, which raises "Object Tags Added": on AWS only
    PutObjectTagging does, so that event is dropped."""

    events: list[tuple[str, Any, dict[str, Any]]] | None = None


_CREATION = _Creation()
#: Set while moto deletes an object: its own removal event is dropped and ours, shaped as AWS sends
#: it (a delete marker or a version, with their version id), is published instead.
_DELETING_OBJECT = threading.local()

_ORIGINAL_DELETE_OBJECT = S3Backend.delete_object
_ORIGINAL_KEY_RESPONSE = S3Response._key_response
#: Serialised by one lock (``utilities.serialise``).
_SERIALISED = ("put_object", "delete_object", "delete_objects", "list_object_versions", "list_objects")


def _flagged(flag: threading.local, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def flagged(*args: Any, **kwargs: Any) -> Any:
        flag.active = True
        try:
            return method(*args, **kwargs)
        finally:
            flag.active = False

    return flagged


def _creating(handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler`` with its creation events sent when it has finished: metadata, ACL and tags are then
    set, as they are at once on AWS."""

    @functools.wraps(handler)
    def creating(*args: Any, **kwargs: Any) -> Any:
        _CREATION.events = []
        try:
            return handler(*args, **kwargs)
        finally:
            held, _CREATION.events = _CREATION.events, None
            for account_id, bucket, event in held:
                _publish_s3_event(account_id, bucket, event)

    return creating


def _publish_s3_event(account_id: str, bucket: Any, event: dict[str, Any]) -> None:
    """An S3 event to the rules of the default bus, when the bucket sends events to EventBridge."""
    configuration = bucket.notification_configuration
    if configuration is None or configuration.event_bridge is None:
        return
    default_bus = events_models.events_backends[account_id][bucket.region_name].event_buses.get("default")
    for rule in list(default_bus.rules.values()) if default_bus else []:
        rule.send_to_targets(event)  # type: ignore[arg-type]


#: S3's refusals of a pre-flight (the first is also moto's, for a bucket's pre-flight).
NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
    "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
    "whitelisted by the resource's CORS spec."
)
NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
NO_ORIGIN = "Insufficient information. Origin request header needed."


def _wildcard(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """A CORS rule's origin or header, whose ``*`` matches anything (moto's own matching is a prefix
    match: it would let ``http://site.example.evil`` through a rule for ``http://site.example``)."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), flags)


def _allows(rule: CorsRule, origin: str, method: str, headers: Sequence[str]) -> bool:
    """S3's match: the origin, the method and every requested header are allowed by ``rule``."""
    allowed_headers = [_wildcard(header, re.IGNORECASE) for header in rule.allowed_headers or []]
    return (
        method in (rule.allowed_methods or [])
        and any(_wildcard(allowed).fullmatch(origin) for allowed in rule.allowed_origins or [])
        and all(any(allowed.fullmatch(header) for allowed in allowed_headers) for header in headers)
    )


def _answer_preflight(response: S3Response, request: Any, full_url: str) -> TYPE_RESPONSE:
    """S3's answer to an object's pre-flight: from the first of the bucket's CORS rules that allows
    it, with no credentials and whether the key exists or not."""
    bucket_name = response.parse_bucket_name_from_url(request, full_url)
    try:
        bucket = response.backend.get_bucket(bucket_name)
    except MissingBucket:
        return _ORIGINAL_KEY_RESPONSE(response, request, full_url)
    origin = request.headers.get("Origin")
    if not origin:
        raise BadRequest(NO_ORIGIN)
    if not bucket.cors:
        raise AccessForbidden(NOT_ENABLED)
    method = request.headers.get("Access-Control-Request-Method", "")
    requested = [
        header.strip().lower()
        for header in request.headers.get("Access-Control-Request-Headers", "").split(",")
        if header.strip()
    ]
    rule = next((rule for rule in bucket.cors if _allows(rule, origin, method, requested)), None)
    if rule is None:
        raise AccessForbidden(NOT_ALLOWED)
    # S3 names the origin, or "*" when the rule allows any; it echoes the requested headers.
    any_origin = "*" in rule.allowed_origins
    headers = {"Access-Control-Allow-Origin": "*" if any_origin else origin}
    if not any_origin:
        headers["Access-Control-Allow-Credentials"] = "true"
    headers["Access-Control-Allow-Methods"] = ", ".join(rule.allowed_methods)
    if requested:
        headers["Access-Control-Allow-Headers"] = ", ".join(requested)
    if rule.exposed_headers:
        headers["Access-Control-Expose-Headers"] = ", ".join(rule.exposed_headers)
    if rule.max_age_seconds is not None:
        headers["Access-Control-Max-Age"] = str(rule.max_age_seconds)
    headers["Vary"] = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
    return 200, headers, ""


@functools.wraps(_ORIGINAL_KEY_RESPONSE)
def _key_response(self: S3Response, request: Any, full_url: str) -> TYPE_RESPONSE:
    if request.method == "OPTIONS":
        return _answer_preflight(self, request, full_url)
    return _ORIGINAL_KEY_RESPONSE(self, request, full_url)


def install(sequencer: Callable[[], str]) -> None:
    """Deliver S3 events through EventBridge as AWS does, make key changes atomic, and answer an
    object's CORS pre-flight as S3 does; ``sequencer`` mints increasing S3 sequencers."""

    def send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        held = _CREATION.events
        if held is not None and event_name == s3_notifications.S3NotificationEvent.OBJECT_TAGGING_PUT_EVENT:
            return
        if getattr(_DELETING_OBJECT, "active", False):
            return
        event = build_object_created_event(
            bucket=bucket.name,
            key=key.name,
            size=int(key.size),
            etag=key.etag,
            version_id=key.version_id if key.version_id not in (None, "null") else None,
            sequencer=sequencer(),
            region=bucket.region_name,
            account=account_id,
            reason=event_name.split(":")[-1],
        )
        event["detail-type"] = s3_notifications._detail_type(event_name)
        if held is None:
            _publish_s3_event(account_id, bucket, event)
        else:
            held.append((account_id, bucket, event))

    def delete_object(
        self: S3Backend, bucket_name: str, key_name: str, version_id: str | None = None, bypass: bool = False
    ) -> tuple[bool, dict[str, Any]]:
        bucket = self.get_bucket(bucket_name)
        deleted, meta = _ORIGINAL_DELETE_OBJECT(self, bucket_name, key_name, version_id, bypass)
        if deleted:
            event = build_object_deleted_event(
                bucket=bucket.name,
                key=key_name,
                sequencer=sequencer(),
                deletion_type=DeletionType.PERMANENTLY_DELETED
                if version_id or not bucket.is_versioned
                else DeletionType.DELETE_MARKER_CREATED,
                version_id=meta.get("version-id"),
                region=bucket.region_name,
                account=self.account_id,
            )
            _publish_s3_event(self.account_id, bucket, event)
        return deleted, meta

    s3_notifications._send_event_bridge_message = send_event_bridge_message
    # _bucket_response_post is POST Object (a browser's presigned upload), and other bucket POSTs,
    # whose events (deletes) are not held back.
    for name in ("put_object", "copy_object", "_bucket_response_post"):
        handler = getattr(S3Response, name)
        if not hasattr(handler, "__wrapped__"):
            setattr(S3Response, name, _creating(handler))
    # Before serialise() wraps it: a delete_object wrapped already is not moto's.
    if S3Backend.delete_object is _ORIGINAL_DELETE_OBJECT:
        S3Backend.delete_object = _flagged(_DELETING_OBJECT, delete_object)  # type: ignore[method-assign]
    serialise(S3Backend, _SERIALISED)
    S3Response._key_response = _key_response  # type: ignore[method-assign]
