"""Keep the local stack's uploads and results across restarts (moto itself keeps everything in memory).

A snapshot is a folder: ``bodies/``, where the running stack keeps every object's body (one file per
content, named by its sha256: ``labeler_tools.local.hooks.s3_storage``), ``objects.json`` naming the
body of each uploaded object (latest version) with its ETag and metadata, and ``results.jsonl`` with
the results table's items in DynamoDB JSON, and ``labels.jsonl`` with the label index's (a
snapshot from before the index has none: the index is rebuilt from the records). Saving copies no
body (the manifest refers to the files the stack wrote) and is atomic (manifests are replaced, never
edited); the bodies the manifest names are pinned, so they outlive the keys that used them until the
next save. Restoring reads no body.
A snapshot of the earlier layout (``objects/``, a copy of each body) is restored from its copies and
migrated by the next save, which removes ``objects/``.
Executions and their histories are not kept: they describe runs of a stack that no longer exists.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto.s3.models import FakeKey, s3_backends
from pydantic import ValidationError

from labeler.aws.label_index import LabelIndexTable
from labeler.aws.results import ResultsRepository
from labeler.aws.results import raw_item_to_record as _record
from labeler.models import ImageStatus
from labeler_tools.deployment import LocalResources, write_atomically
from labeler_tools.local.hooks import s3_storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    folder: Path

    @property
    def bodies_dir(self) -> Path:
        """Where the stack stores object bodies (``s3_storage.use_folder``)."""
        return self.folder / "bodies"

    @property
    def objects_dir(self) -> Path:
        """The earlier layout's copies of the bodies (read when restoring an old snapshot)."""
        return self.folder / "objects"

    @property
    def manifest(self) -> Path:
        return self.folder / "objects.json"

    @property
    def results(self) -> Path:
        return self.folder / "results.jsonl"

    @property
    def labels(self) -> Path:
        return self.folder / "labels.jsonl"

    @property
    def identity_pool(self) -> Path:
        return self.folder / "identity-pool-id"

    def identity_pool_id(self) -> str | None:
        """The guest identity pool id of an earlier start, if there was one."""
        saved = self.identity_pool.read_text().strip() if self.identity_pool.exists() else ""
        return saved or None

    def keep_identity_pool_id(self, identity_pool_id: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.identity_pool, identity_pool_id + "\n")

    def save(self, session: boto3.Session, stack: LocalResources) -> dict[str, int]:
        """Write the current objects and records; returns how many of each were saved."""
        dynamodb = session.client("dynamodb")
        backend = s3_backends[stack.account]["aws"]
        entries: list[dict[str, Any]] = []
        for name in _buckets(stack):
            for versions in list(dict.values(backend.get_bucket(name).keys)):
                latest = versions[-1] if versions else None
                if not isinstance(latest, FakeKey):  # a delete marker
                    continue
                body = s3_storage.stored_body(latest)
                if body.folder != self.bodies_dir:  # stored before the stack used this folder: copied in
                    body = s3_storage.BodyStore(self.bodies_dir).share(body)
                entries.append(
                    {
                        "bucket": name,
                        "key": latest.name,
                        "sha256": body.sha256,
                        "size": body.size,
                        "md5": body.md5,
                        "etag": latest.etag.strip('"'),
                        "metadata": dict(latest.metadata),
                    }
                )
        store, named = s3_storage.store(), frozenset(entry["sha256"] for entry in entries)
        if store.folder == self.bodies_dir:  # what either manifest names survives a sweep meanwhile
            store.pinned |= named
        write_atomically(self.manifest, json.dumps(entries, indent=1))
        if store.folder == self.bodies_dir:
            store.pinned = named
            s3_storage.sweep()
        shutil.rmtree(self.objects_dir, ignore_errors=True)  # the earlier layout, migrated
        items = _scan(dynamodb, stack.results_table)
        write_atomically(self.results, "".join(json.dumps(item) + "\n" for item in items))
        if stack.labels_table:
            labels = _scan(dynamodb, stack.labels_table)
            write_atomically(self.labels, "".join(json.dumps(item) + "\n" for item in labels))
        return {"objects": len(entries), "records": len(items)}

    def restore(self, session: boto3.Session, stack: LocalResources) -> dict[str, int]:
        """Put the saved objects and records back. Call before uploads are delivered to the pipeline,
        once the stack stores bodies in ``bodies_dir``."""
        if not self.manifest.exists():
            return {"objects": 0, "records": 0}
        s3, dynamodb = session.client("s3"), session.client("dynamodb")
        backend = s3_backends[stack.account]["aws"]
        entries = json.loads(self.manifest.read_text())
        restored = 0
        for entry in entries:
            # Snapshots from before the library bucket hold uploads only.
            bucket = backend.get_bucket(entry.get("bucket", stack.upload_bucket))
            if "sha256" not in entry:  # the earlier layout: a copy of the body in objects/
                s3.put_object(
                    Bucket=stack.upload_bucket,
                    Key=entry["key"],
                    Body=(self.objects_dir / entry["file"]).read_bytes(),
                    ContentType=entry["content_type"],
                    Metadata=entry["metadata"],
                )
                restored += 1
                continue
            body = s3_storage.StoredBody(self.bodies_dir, entry["sha256"], entry["size"], entry.get("md5"))
            if not body.path.is_file():
                log.warning("not restored: %s (its stored body %s is missing)", entry["key"], entry["sha256"])
                continue
            # The stored file itself becomes the key's body (s3_storage shares it: nothing is read).
            key = backend.put_object(
                bucket.name,
                entry["key"],
                body,  # type: ignore[arg-type]
                etag=entry["etag"],
                disable_notification=True,
            )
            key.set_metadata(dict(entry["metadata"]))
            key.set_acl(bucket.acl)  # as PutObject without an ACL header does
            restored += 1
        store = s3_storage.store()
        if store.folder == self.bodies_dir:
            store.pinned = frozenset(entry["sha256"] for entry in entries if "sha256" in entry)
        lines = self.results.read_text().splitlines() if self.results.exists() else []
        for line in lines:
            dynamodb.put_item(TableName=stack.results_table, Item=json.loads(line))
        if stack.labels_table:
            self._restore_labels(dynamodb, stack, lines)
        return {"objects": restored, "records": len(lines)}

    def _restore_labels(self, dynamodb: Any, stack: LocalResources, records: list[str]) -> None:
        """The saved index, or one built from the records (a snapshot saved before the index existed)."""
        assert stack.labels_table is not None
        if self.labels.exists():
            for line in self.labels.read_text().splitlines():
                dynamodb.put_item(TableName=stack.labels_table, Item=json.loads(line))
            return
        repository = ResultsRepository(
            dynamodb, stack.results_table, LabelIndexTable(dynamodb, stack.labels_table)
        )
        for line in records:
            item = json.loads(line)
            try:
                record = _record(item)
            except ValidationError:  # restored as it was; nothing to index it under
                log.warning("not indexed: %s is not an image record", item.get("ImageName"))
                continue
            if record.status is not ImageStatus.PROCESSING:
                repository.reindex(record)


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    return [
        item
        for page in dynamodb.get_paginator("scan").paginate(TableName=table)
        for item in page.get("Items", [])
    ]


def _buckets(stack: LocalResources) -> list[str]:
    """The buckets whose objects a snapshot keeps: the uploads, and the library's photos."""
    return [stack.upload_bucket, *([stack.library_bucket] if stack.library_bucket else [])]
