"""``labeler delete``: delete uploads from the upload bucket; the pipeline's cleanup does the rest.

Each key must be ``uploads/<owner>/<name>`` and name an object that exists (its current version is
not a delete marker); any other key is reported and nothing is touched for it. A DeleteObject on the
versioned bucket leaves a delete marker; S3's "Object Deleted" event then starts the cleanup, which
removes every version of the key and replaces its record with a DELETED tombstone. ``--wait`` follows
each record until it is gone or DELETED.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from labeler.aws.codes import error_summary
from labeler.models import ImageStatus, ObjectRef
from labeler_tools.ops.records import Records, StoredRecord, status_of

if TYPE_CHECKING:
    from labeler_tools.ops.target import Target


class DeleteItem(BaseModel):
    """One key: what it was, whether its object was deleted, and (after ``--wait``) its record after."""

    model_config = ConfigDict(frozen=True)

    key: str
    #: The uploader's file name, from the record, when there is one.
    original_name: str | None = None
    status_before: ImageStatus | None = None
    deleted: bool = False
    #: The version id of the delete marker S3 created.
    delete_marker: str | None = None
    error: str | None = None
    #: With ``--wait``: the record's status at the end (None: no record any more).
    status_after: ImageStatus | None = None
    #: With ``--wait``: the record is gone or DELETED.
    cleaned_up: bool | None = None


class DeleteSummary(BaseModel):
    deleted: int
    errors: int
    cleaned_up: int | None = None
    pending: int | None = None

    @property
    def ok(self) -> bool:
        return self.errors == 0 and not self.pending


def summarize(items: Sequence[DeleteItem], waited: bool) -> DeleteSummary:
    deleted = [item for item in items if item.deleted]
    cleaned = sum(1 for item in deleted if item.cleaned_up)
    return DeleteSummary(
        deleted=len(deleted),
        errors=sum(1 for item in items if item.error),
        cleaned_up=cleaned if waited else None,
        pending=len(deleted) - cleaned if waited else None,
    )


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be an upload's key, or None when it can."""
    if ObjectRef(bucket="", key=key).owner is None:
        return "not an upload key (expected uploads/<owner>/<name>)"
    return None


def _gone(record: StoredRecord | None) -> bool:
    return record is None or record.status == ImageStatus.DELETED


@dataclass(frozen=True)
class Deleter:
    target: Target

    @property
    def records(self) -> Records:
        return Records(self.target.dynamodb, self.target.results_table)

    def delete(
        self, keys: Sequence[str], on_item: Callable[[DeleteItem], None] | None = None
    ) -> list[DeleteItem]:
        """DeleteObject on each valid, existing key (each key once, in the given order)."""
        done = []
        for key in dict.fromkeys(keys):
            item = self._delete_one(key)
            done.append(item)
            if on_item is not None:
                on_item(item)
        return done

    def _delete_one(self, key: str) -> DeleteItem:
        problem = key_problem(key)
        if problem:
            return DeleteItem(key=key, error=problem)
        record = self.records.get(key)
        item = DeleteItem(
            key=key,
            original_name=record.original_name if record else None,
            status_before=status_of(record),
        )
        bucket, s3 = self.target.upload_bucket, self.target.s3
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in (404, 405):  # 405: the current version is a delete marker
                return item.model_copy(update={"error": f"no such object in {bucket}"})
            return item.model_copy(update={"error": error_summary(error)})
        try:
            response = s3.delete_object(Bucket=bucket, Key=key)
        except ClientError as error:
            return item.model_copy(update={"error": error_summary(error)})
        return item.model_copy(update={"deleted": True, "delete_marker": response.get("VersionId")})

    def wait(
        self,
        items: Sequence[DeleteItem],
        timeout_s: float,
        poll_s: float,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[DeleteItem]:
        """Until the record of every deleted key is gone or DELETED (or the timeout)."""
        pending = [item.key for item in items if item.deleted]
        after: dict[str, StoredRecord | None] = {}
        deadline = time.monotonic() + timeout_s
        while True:
            for key in pending:
                if key not in after or not _gone(after[key]):
                    after[key] = self.records.get(key)
            cleaned = sum(1 for key in pending if _gone(after[key]))
            if on_progress is not None:
                on_progress(cleaned, len(pending))
            if cleaned == len(pending) or time.monotonic() > deadline:
                break
            time.sleep(poll_s)
        return [
            item.model_copy(
                update={
                    "status_after": status_of(after[item.key]),
                    "cleaned_up": _gone(after[item.key]),
                }
            )
            if item.deleted
            else item
            for item in items
        ]
