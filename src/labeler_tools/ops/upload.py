"""``labeler upload``: put files into the upload bucket, then (optionally) wait for their records.

Each file becomes ``uploads/<owner>/<random hex><.ext>``: a name that is safe in any URL, log or shell,
and unique, so a record found for it is this upload's. The original file name travels in the object's
metadata (``original-name``, URL-encoded: S3 metadata is ASCII). Nothing is checked on this side: a file
the pipeline cannot label is uploaded anyway and its record says why (``REJECTED`` with a code).
"""

from __future__ import annotations

import glob
import mimetypes
import re
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from labeler.models import UPLOAD_PREFIX
from labeler_tools.ops.records import Records, StoredRecord, is_final, is_labeled

if TYPE_CHECKING:
    from labeler_tools.ops.target import Target

#: The pipeline rejects larger files (TOO_LARGE); the CLI warns, and uploads them anyway.
MAX_BYTES = 15 * 1024 * 1024
_OWNER = re.compile(r"[A-Za-z0-9._:@+=-]{1,128}")
_EXTENSION = re.compile(r"\.[a-z0-9]{1,10}")


class Upload(BaseModel):
    """One file: where it goes, and what became of it."""

    model_config = ConfigDict(frozen=True)

    path: Path
    key: str
    size: int
    content_type: str
    version_id: str | None = None
    error: str | None = None
    #: With ``--wait``: the image's record (an unreadable one is never LABELED).
    record: StoredRecord | None = None

    @property
    def labeled(self) -> bool:
        return is_labeled(self.record)


def check_owner(owner: str) -> str:
    """``--owner`` becomes one key segment: letters, digits and ``._:@+=-`` only (no ``/``)."""
    if not _OWNER.fullmatch(owner):
        raise ValueError(f"{owner!r} cannot be an owner: use letters, digits and ._:@+=- (at most 128)")
    return owner


def collect(arguments: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Files named by paths, folders (recursively, hidden entries skipped) and globs; plus what was not found.

    Each file once, in the order given (folders and globs sorted).
    """
    files: dict[Path, None] = {}
    problems: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if any(character in argument for character in "*?["):
            matches = [Path(match) for match in sorted(glob.glob(argument, recursive=True))]
            if not matches:
                problems.append(f"{argument}: matches nothing")
        elif path.is_dir():
            matches = sorted(
                entry
                for entry in path.rglob("*")
                if not any(part.startswith(".") for part in entry.relative_to(path).parts)
            )
        elif path.exists():
            matches = [path]
        else:
            problems.append(f"{argument}: no such file or folder")
            matches = []
        for match in matches:
            if match.is_file():
                files.setdefault(match, None)
            elif not match.is_dir():
                problems.append(f"{match}: skipped, not a regular file")
    return list(files), problems


def plan(files: Sequence[Path], owner: str) -> list[Upload]:
    uploads = []
    for path in files:
        suffix = path.suffix.lower()
        extension = suffix if _EXTENSION.fullmatch(suffix) else ""
        uploads.append(
            Upload(
                path=path,
                key=f"{UPLOAD_PREFIX}{owner}/{uuid.uuid4().hex}{extension}",
                size=path.stat().st_size,
                content_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            )
        )
    return uploads


def upload(
    target: Target,
    uploads: Sequence[Upload],
    concurrency: int = 8,
    on_done: Callable[[Upload], None] | None = None,
) -> list[Upload]:
    """PutObject each file, ``concurrency`` at a time; a failed upload carries its error."""

    def put(item: Upload) -> Upload:
        try:
            with item.path.open("rb") as body:
                response = target.s3.put_object(
                    Bucket=target.upload_bucket,
                    Key=item.key,
                    Body=body,
                    ContentType=item.content_type,
                    Metadata={"original-name": quote(item.path.name, safe="")},
                )
        except (OSError, ClientError) as error:
            done = item.model_copy(update={"error": str(error)})
        else:
            done = item.model_copy(update={"version_id": response.get("VersionId")})
        if on_done is not None:
            on_done(done)
        return done

    with ThreadPoolExecutor(max_workers=max(concurrency, 1)) as pool:
        return list(pool.map(put, uploads))


def wait_for_records(
    target: Target,
    uploads: Sequence[Upload],
    timeout_s: float,
    poll_s: float,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Upload]:
    """Poll the results table until every uploaded file has a final record (or the timeout)."""
    records = Records(target.dynamodb, target.results_table)
    found: dict[str, StoredRecord] = {}
    pending = [item.key for item in uploads if item.error is None]
    total = len(pending)
    deadline = time.monotonic() + timeout_s
    while True:
        for key in pending:
            record = records.get(key)
            if record is not None:
                found[key] = record
        pending = [key for key in pending if key not in found or not is_final(found[key])]
        if on_progress is not None:
            on_progress(total - len(pending), total)
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(poll_s)
    return [item.model_copy(update={"record": found.get(item.key)}) for item in uploads]
