"""Reading uploaded objects from S3 without downloading them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from labeler.errors import ImageRejected, RejectionCode, StorageThrottled
from labeler.models import ObjectRef

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_GONE = {"404", "NoSuchKey", "NoSuchVersion", "NotFound", "412", "PreconditionFailed", "InvalidRange"}
_THROTTLED = {"SlowDown", "ServiceUnavailable", "InternalError", "500", "503", "RequestTimeout"}


def _translate(error: ClientError, ref: ObjectRef) -> Exception:
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code in _GONE:
        return ImageRejected(
            RejectionCode.OBJECT_GONE,
            f"The object {ref.key!r} was deleted or replaced by a newer upload before it could be validated.",
        )
    if code in _THROTTLED:
        return StorageThrottled(f"S3 answered {code} for {ref.key!r}")
    return error


@dataclass
class S3ObjectSource:
    """A ByteSource over one version of an S3 object: HeadObject once, then ranged GETs.

    Reads pin the version (VersionId) or, on unversioned buckets, the content (IfMatch on the ETag),
    so a concurrent overwrite can never mix bytes of two uploads.
    """

    client: S3Client
    ref: ObjectRef
    bytes_read: int = 0
    _head: dict[str, Any] = field(default_factory=dict)

    def _object_args(self) -> dict[str, str]:
        args = {"Bucket": self.ref.bucket, "Key": self.ref.key}
        if self.ref.version_id:
            args["VersionId"] = self.ref.version_id
        elif self.ref.etag:
            args["IfMatch"] = f'"{self.ref.etag}"'
        return args

    def head(self) -> dict[str, Any]:
        if not self._head:
            try:
                self._head = dict(self.client.head_object(**self._object_args()))  # type: ignore[arg-type]
            except ClientError as error:
                raise _translate(error, self.ref) from error
        return self._head

    @property
    def size(self) -> int:
        return int(self.head()["ContentLength"])

    @property
    def original_name(self) -> str | None:
        """The uploader's file name: ``original-name`` metadata, URL-encoded since metadata is ASCII."""
        value = self.head().get("Metadata", {}).get("original-name")
        return unquote(value)[:1024] if value else None

    def read(self, offset: int, length: int) -> bytes:
        if length <= 0 or offset >= self.size:
            return b""
        end = min(offset + length, self.size) - 1
        try:
            response = self.client.get_object(**self._object_args(), Range=f"bytes={offset}-{end}")  # type: ignore[arg-type]
            data = response["Body"].read()
        except ClientError as error:
            raise _translate(error, self.ref) from error
        self.bytes_read += len(data)
        return data
