"""Reading uploaded objects from S3 without downloading them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from labeler.aws.codes import error_code
from labeler.errors import ImageRejected, RejectionCode, StorageThrottled
from labeler.models import ObjectHead, ObjectRef, VersionEntry

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_GONE = {"404", "NoSuchKey", "NoSuchVersion", "NotFound", "412", "PreconditionFailed", "InvalidRange"}
#: S3's answers for bytes it keeps but will not hand out: an archived storage class (GetObject), or a
#: customer-provided encryption key (SSE-C) the reader does not have (GetObject and HeadObject).
_ARCHIVED = {"InvalidObjectState"}
_CUSTOMER_KEY = {"InvalidRequest", "400", "BadRequest"}
_THROTTLED = {"SlowDown", "ServiceUnavailable", "InternalError", "500", "503", "RequestTimeout"}


def _total_size(response: Any) -> int:
    """The whole object's size from a ranged GET: ``Content-Range: bytes 0-65535/15728640``."""
    content_range = response.get("ContentRange")
    if content_range and "/" in content_range and not content_range.endswith("/*"):
        return int(content_range.rsplit("/", 1)[1])
    return int(response["ContentLength"])  # the range was ignored: this is the whole object


def _translate(error: ClientError, ref: ObjectRef) -> Exception:
    code = error_code(error)
    if code in _GONE:
        return ImageRejected(
            RejectionCode.OBJECT_GONE,
            f"The object {ref.key!r} was deleted or replaced by a newer upload before it could be validated.",
        )
    if code in _ARCHIVED:
        return ImageRejected(
            RejectionCode.OBJECT_NOT_READABLE,
            f"The object {ref.key!r} is in an archive storage class, which cannot be read without a "
            "restore; upload it in the STANDARD storage class.",
        )
    if code in _CUSTOMER_KEY:
        return ImageRejected(
            RejectionCode.OBJECT_NOT_READABLE,
            f"The object {ref.key!r} cannot be read: S3 refused the read ({code}), as it does for objects "
            "encrypted with a customer-provided key (SSE-C); upload it without SSE-C headers.",
        )
    if code in _THROTTLED:
        return StorageThrottled(f"S3 answered {code} for {ref.key!r}")
    return error


@dataclass
class S3ObjectSource:
    """A ByteSource over one version of an S3 object, read with ranged GETs.

    The first GET also tells the object's size (Content-Range) and metadata, so validating an image
    costs one S3 request; HeadObject is asked only when no GET has answered yet, or for an empty
    object (S3 answers a range over zero bytes with InvalidRange).
    Reads pin the version (VersionId) or, on unversioned buckets, the content (IfMatch on the ETag),
    so a concurrent overwrite can never mix bytes of two uploads.
    """

    client: S3Client
    ref: ObjectRef
    bytes_read: int = 0
    _size: int | None = None
    _metadata: dict[str, str] | None = None

    def _object_args(self) -> dict[str, str]:
        args = {"Bucket": self.ref.bucket, "Key": self.ref.key}
        if self.ref.version_id:
            args["VersionId"] = self.ref.version_id
        elif self.ref.etag:
            args["IfMatch"] = f'"{self.ref.etag}"'
        return args

    def _head(self) -> None:
        try:
            response = self.client.head_object(**self._object_args())  # type: ignore[arg-type]
        except ClientError as error:
            raise _translate(error, self.ref) from error
        self._size, self._metadata = int(response["ContentLength"]), dict(response.get("Metadata", {}))

    @property
    def size(self) -> int:
        if self._size is None:
            self._head()
        assert self._size is not None
        return self._size

    @property
    def original_name(self) -> str | None:
        """The uploader's file name: ``original-name`` metadata, URL-encoded since metadata is ASCII."""
        if self._metadata is None:
            self._head()
        value = (self._metadata or {}).get("original-name")
        return unquote(value)[:1024] if value else None

    def read(self, offset: int, length: int) -> bytes:
        if length <= 0 or (self._size is not None and offset >= self._size):
            return b""
        end = offset + length - 1  # S3 ends a range that runs past the object at its last byte
        try:
            response = self.client.get_object(**self._object_args(), Range=f"bytes={offset}-{end}")  # type: ignore[arg-type]
            data = response["Body"].read()
        except ClientError as error:
            if self._size is None and error_code(error) == "InvalidRange":
                self._head()  # empty (size 0), or gone: HeadObject tells which
                if offset >= self.size:
                    return b""
            raise _translate(error, self.ref) from error
        if self._size is None:
            self._size, self._metadata = _total_size(response), dict(response.get("Metadata", {}))
        self.bytes_read += len(data)
        return data


@dataclass(frozen=True)
class S3ObjectHeads:
    """HeadObject of a key's current version."""

    client: S3Client

    def head(self, bucket: str, key: str) -> ObjectHead | None:
        try:
            response = self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            code = error_code(error)
            if code in _GONE:  # deleted since it was listed (a delete marker answers 404 too)
                return None
            if code in _THROTTLED:
                raise StorageThrottled(f"S3 answered {code} for {key!r}") from error
            raise
        return ObjectHead(
            bucket=bucket,
            key=key,
            version_id=response.get("VersionId"),
            etag=response["ETag"].strip('"'),
            size=int(response["ContentLength"]),
            last_modified=response["LastModified"],
        )


#: Most keys one DeleteObjects call may name.
_DELETE_BATCH = 1000


@dataclass(frozen=True)
class ObjectVersions:
    """Every version and delete marker of one key, and their removal."""

    client: S3Client

    def of(self, bucket: str, key: str) -> list[VersionEntry]:
        """Versions and delete markers of exactly ``key`` (not of keys it is a prefix of)."""
        entries: list[VersionEntry] = []
        paginator = self.client.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=key):
                for kind, marker in (("Versions", False), ("DeleteMarkers", True)):
                    entries.extend(
                        VersionEntry(
                            version_id=entry["VersionId"],
                            is_latest=entry["IsLatest"],
                            is_delete_marker=marker,
                        )
                        for entry in page.get(kind, [])  # type: ignore[attr-defined]
                        if entry["Key"] == key
                    )
        except ClientError as error:
            if error_code(error) in _THROTTLED:
                raise StorageThrottled(
                    f"S3 answered {error_code(error)} listing versions of {key!r}"
                ) from error
            raise
        return entries

    def delete(self, bucket: str, key: str, version_ids: list[str]) -> None:
        for start in range(0, len(version_ids), _DELETE_BATCH):
            batch = version_ids[start : start + _DELETE_BATCH]
            response = self.client.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": key, "VersionId": v} for v in batch], "Quiet": True},
            )
            failed = [error for error in response.get("Errors", []) if error.get("Code") != "NoSuchVersion"]
            if failed:
                raise StorageThrottled(f"S3 kept {len(failed)} versions of {key!r}: {failed[0].get('Code')}")
