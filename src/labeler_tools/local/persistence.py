"""Keep the local stack's uploads and results across restarts (moto itself keeps everything in memory).

A snapshot is a folder: ``objects/`` with one file per uploaded object (latest version, named by a
hash so any key is a safe file name), ``objects.json`` describing them, and ``results.jsonl`` with
the results table's items in DynamoDB JSON. Snapshots are written incrementally (object files that
exist already are not rewritten) and atomically (manifests are replaced, never edited).
Executions and their histories are not kept: they describe runs of a stack that no longer exists.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from labeler_tools.deployment import LocalResources, write_atomically


@dataclass(frozen=True)
class Snapshot:
    folder: Path

    @property
    def objects_dir(self) -> Path:
        return self.folder / "objects"

    @property
    def manifest(self) -> Path:
        return self.folder / "objects.json"

    @property
    def results(self) -> Path:
        return self.folder / "results.jsonl"

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
        self.objects_dir.mkdir(parents=True, exist_ok=True)
        s3, dynamodb = session.client("s3"), session.client("dynamodb")
        entries: list[dict[str, Any]] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.upload_bucket):
            for summary in page.get("Contents", []):
                key, etag = summary["Key"], summary["ETag"].strip('"')
                name = hashlib.sha256(f"{key}\0{etag}".encode()).hexdigest()
                path = self.objects_dir / name
                head = s3.head_object(Bucket=stack.upload_bucket, Key=key)
                if not path.exists():
                    body = s3.get_object(Bucket=stack.upload_bucket, Key=key)["Body"].read()
                    path.with_suffix(".tmp").write_bytes(body)
                    os.replace(path.with_suffix(".tmp"), path)
                entries.append(
                    {
                        "key": key,
                        "file": name,
                        "content_type": head.get("ContentType", "binary/octet-stream"),
                        "metadata": head.get("Metadata", {}),
                    }
                )
        write_atomically(self.manifest, json.dumps(entries, indent=1))
        keep = {entry["file"] for entry in entries}
        for stale in self.objects_dir.iterdir():
            if stale.name not in keep:
                stale.unlink()
        items = [
            item
            for page in dynamodb.get_paginator("scan").paginate(TableName=stack.results_table)
            for item in page.get("Items", [])
        ]
        write_atomically(self.results, "".join(json.dumps(item) + "\n" for item in items))
        return {"objects": len(entries), "records": len(items)}

    def restore(self, session: boto3.Session, stack: LocalResources) -> dict[str, int]:
        """Put the saved objects and records back. Call before uploads are delivered to the pipeline."""
        if not self.manifest.exists():
            return {"objects": 0, "records": 0}
        s3, dynamodb = session.client("s3"), session.client("dynamodb")
        entries = json.loads(self.manifest.read_text())
        for entry in entries:
            s3.put_object(
                Bucket=stack.upload_bucket,
                Key=entry["key"],
                Body=(self.objects_dir / entry["file"]).read_bytes(),
                ContentType=entry["content_type"],
                Metadata=entry["metadata"],
            )
        lines = self.results.read_text().splitlines() if self.results.exists() else []
        for line in lines:
            dynamodb.put_item(TableName=stack.results_table, Item=json.loads(line))
        return {"objects": len(entries), "records": len(lines)}
