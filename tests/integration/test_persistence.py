"""The local stack's snapshot (labeler_tools.local.persistence): it refers to the stored body files
instead of copying them, restores without reading a body, keeps the label index, and migrates the
earlier layouts."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labeler.aws.label_index import LabelIndexTable
from labeler.aws.results import ResultsRepository
from labeler.models import ImageStatus, Label
from labeler_tools.deployment import LocalResources
from labeler_tools.local.hooks import s3_storage
from labeler_tools.local.persistence import Snapshot
from labeler_tools.local.provision import create_labels_table, create_results_table
from labeler_tools.local.server import LocalAws
from tests.integration.pipeline_helpers import competing_record

pytestmark = pytest.mark.integration


@pytest.fixture
def snapshot(tmp_path: Path) -> Iterator[Snapshot]:
    """A snapshot folder whose bodies/ the stack stores bodies in while the test runs."""
    snapshot = Snapshot(tmp_path / "state")
    s3_storage.use_folder(snapshot.bodies_dir)
    yield snapshot
    s3_storage.use_folder(None)


@pytest.fixture
def own_bucket(local_aws: LocalAws, stack: LocalResources) -> LocalResources:
    """The stack with an upload bucket of its own (versioned, as the stack's is), and a library bucket
    of its own (not versioned, as the stack's is)."""
    name = f"persistence-{uuid.uuid4()}"
    s3 = local_aws.session().client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=f"{name}-library")
    return stack.model_copy(update={"upload_bucket": name, "library_bucket": f"{name}-library"})


def _empty(local_aws: LocalAws, bucket: str) -> None:
    s3 = local_aws.session().client("s3")
    listed = s3.list_object_versions(Bucket=bucket)
    for version in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])


def test_a_snapshot_refers_to_the_stored_bodies_and_restores_them_without_reading_one(
    local_aws: LocalAws, own_bucket: LocalResources, snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = local_aws.session().client("s3")
    bucket = own_bucket.upload_bucket
    photo, other = os.urandom(200_000), os.urandom(1000)
    s3.put_object(
        Bucket=bucket,
        Key="uploads/a b+c%.jpg",
        Body=photo,
        ContentType="image/jpeg",
        Metadata={"original-name": "a.jpg"},
    )
    s3.put_object(Bucket=bucket, Key="uploads/same.jpg", Body=photo, ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key="uploads/gone.jpg", Body=other)
    s3.delete_object(Bucket=bucket, Key="uploads/gone.jpg")  # a delete marker: not saved
    etag = s3.head_object(Bucket=bucket, Key="uploads/a b+c%.jpg")["ETag"]

    assert snapshot.save(local_aws.session(), own_bucket)["objects"] == 2
    manifest = json.loads(snapshot.manifest.read_text())
    assert {entry["sha256"] for entry in manifest} == {hashlib.sha256(photo).hexdigest()}
    assert (snapshot.bodies_dir / hashlib.sha256(photo).hexdigest()).read_bytes() == photo  # not copied
    assert not snapshot.objects_dir.exists()

    _empty(local_aws, bucket)
    s3_storage.sweep(grace_s=0)
    assert (snapshot.bodies_dir / hashlib.sha256(photo).hexdigest()).exists()  # pinned by the manifest
    assert not (snapshot.bodies_dir / hashlib.sha256(other).hexdigest()).exists()
    reads: list[str] = []
    read = s3_storage.StoredBody.read

    def recording(body: s3_storage.StoredBody, *arguments: int) -> bytes:
        reads.append(body.sha256)
        return read(body, *arguments)

    monkeypatch.setattr(s3_storage.StoredBody, "read", recording)

    assert snapshot.restore(local_aws.session(), own_bucket)["objects"] == 2
    assert reads == []
    monkeypatch.undo()
    got = s3.get_object(Bucket=bucket, Key="uploads/a b+c%.jpg")
    assert got["Body"].read() == photo and got["ETag"] == etag
    assert got["ContentType"] == "image/jpeg" and got["Metadata"] == {"original-name": "a.jpg"}
    assert s3.get_object(Bucket=bucket, Key="uploads/same.jpg")["Body"].read() == photo

    snapshot.save(local_aws.session(), own_bucket)  # the next save names the same bodies
    saved_again = json.loads(snapshot.manifest.read_text())
    assert sorted((e["key"], e["sha256"], e["etag"]) for e in saved_again) == sorted(
        (e["key"], e["sha256"], e["etag"]) for e in manifest
    )


def test_the_library_buckets_photos_are_kept_in_their_bucket(
    local_aws: LocalAws, own_bucket: LocalResources, snapshot: Snapshot
) -> None:
    s3 = local_aws.session().client("s3")
    library, photo = own_bucket.library_bucket, os.urandom(5000)
    assert library is not None
    s3.put_object(Bucket=library, Key="2019/beach.jpg", Body=photo, Metadata={"camera": "x100"})
    s3.put_object(Bucket=own_bucket.upload_bucket, Key="uploads/a/b.jpg", Body=b"upload")

    assert snapshot.save(local_aws.session(), own_bucket)["objects"] == 2
    s3.delete_object(Bucket=library, Key="2019/beach.jpg")
    _empty(local_aws, own_bucket.upload_bucket)

    assert snapshot.restore(local_aws.session(), own_bucket)["objects"] == 2
    got = s3.get_object(Bucket=library, Key="2019/beach.jpg")
    assert (got["Body"].read(), got["Metadata"]) == (photo, {"camera": "x100"})
    assert "VersionId" not in got or got["VersionId"] == "null"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=own_bucket.upload_bucket)["Contents"]] == [
        "uploads/a/b.jpg"
    ]
    assert "Contents" not in s3.list_objects_v2(Bucket=library, Prefix="uploads/")


def test_a_body_missing_from_the_snapshot_skips_its_object_only(
    local_aws: LocalAws, own_bucket: LocalResources, snapshot: Snapshot
) -> None:
    s3 = local_aws.session().client("s3")
    kept, lost = os.urandom(3000), os.urandom(3000)
    s3.put_object(Bucket=own_bucket.upload_bucket, Key="uploads/kept.png", Body=kept)
    s3.put_object(Bucket=own_bucket.upload_bucket, Key="uploads/lost.png", Body=lost)
    snapshot.save(local_aws.session(), own_bucket)
    _empty(local_aws, own_bucket.upload_bucket)
    (snapshot.bodies_dir / hashlib.sha256(lost).hexdigest()).unlink()

    assert snapshot.restore(local_aws.session(), own_bucket)["objects"] == 1
    listed = s3.list_objects_v2(Bucket=own_bucket.upload_bucket)["Contents"]
    assert [entry["Key"] for entry in listed] == ["uploads/kept.png"]


def test_a_snapshot_restores_into_a_stack_that_stores_bodies_elsewhere(
    local_aws: LocalAws, own_bucket: LocalResources, snapshot: Snapshot
) -> None:
    """Its bodies are copied into the stack's folder: the snapshot's own stay as they are."""
    s3 = local_aws.session().client("s3")
    body = os.urandom(4000)
    s3.put_object(Bucket=own_bucket.upload_bucket, Key="uploads/elsewhere.png", Body=body)
    snapshot.save(local_aws.session(), own_bucket)
    _empty(local_aws, own_bucket.upload_bucket)
    elsewhere = s3_storage.use_folder(None)

    assert snapshot.restore(local_aws.session(), own_bucket)["objects"] == 1
    got = s3.get_object(Bucket=own_bucket.upload_bucket, Key="uploads/elsewhere.png")["Body"].read()
    assert got == body and (elsewhere.folder / hashlib.sha256(body).hexdigest()).read_bytes() == body
    assert (snapshot.bodies_dir / hashlib.sha256(body).hexdigest()).exists()


def test_a_snapshot_of_the_earlier_layout_restores_and_is_migrated_by_the_next_save(
    local_aws: LocalAws, own_bucket: LocalResources, snapshot: Snapshot
) -> None:
    body = os.urandom(5000)
    snapshot.objects_dir.mkdir(parents=True)
    (snapshot.objects_dir / "0123abcd").write_bytes(body)
    entry = {
        "key": "uploads/old.png",
        "file": "0123abcd",
        "content_type": "image/png",
        "metadata": {"original-name": "old.png"},
    }
    snapshot.manifest.write_text(json.dumps([entry]))

    assert snapshot.restore(local_aws.session(), own_bucket)["objects"] == 1
    s3 = local_aws.session().client("s3")
    got = s3.get_object(Bucket=own_bucket.upload_bucket, Key="uploads/old.png")
    assert got["Body"].read() == body and got["ContentType"] == "image/png"
    assert got["Metadata"] == {"original-name": "old.png"}

    snapshot.save(local_aws.session(), own_bucket)
    assert not snapshot.objects_dir.exists()
    assert [entry["sha256"] for entry in json.loads(snapshot.manifest.read_text())] == [
        hashlib.sha256(body).hexdigest()
    ]
    assert (snapshot.bodies_dir / hashlib.sha256(body).hexdigest()).read_bytes() == body


def test_the_label_index_is_kept_and_an_earlier_snapshot_without_one_gets_it_rebuilt(
    local_aws: LocalAws, own_bucket: LocalResources, snapshot: Snapshot, owner: str
) -> None:
    client = local_aws.session().client("dynamodb")
    results_table, labels_table = f"results-{uuid.uuid4().hex[:8]}", f"labels-{uuid.uuid4().hex[:8]}"
    create_results_table(client, results_table)  # of this test only: the rebuild indexes every record
    create_labels_table(client, labels_table)
    stack = own_bucket.model_copy(update={"results_table": results_table, "labels_table": labels_table})
    index = LabelIndexTable(client, labels_table)
    record = competing_record(owner, ImageStatus.LABELED, "0A", execution="x").model_copy(
        update={"labels": [Label(name="Tabby Cat", confidence=88.0, parents=["Cat", "Animal"])]}
    )
    assert ResultsRepository(client, stack.results_table, index).put_if_newer(record)
    partial = {"Owner": {"S": owner}, "ImageName": {"S": "not a record"}}  # as a hand-written item is
    client.put_item(TableName=stack.results_table, Item=partial)

    def owners_index() -> list[dict[str, Any]]:
        items = client.scan(TableName=labels_table)["Items"]
        return sorted((item for item in items if item["Partition"]["S"].startswith(owner)), key=json.dumps)

    assert client.scan(TableName=labels_table, Select="COUNT")["Count"] == 3 + 3 + 1 + 3  # and everyone's

    indexed = owners_index()
    assert len(indexed) == 3 + 3 + 1  # entries, counts, manifest

    def restored_from_scratch() -> list[dict[str, Any]]:
        for item in client.scan(TableName=labels_table)["Items"]:
            client.delete_item(TableName=labels_table, Key={k: item[k] for k in ("Partition", "Sort")})
        snapshot.restore(local_aws.session(), stack)
        return owners_index()

    snapshot.save(local_aws.session(), stack)
    assert snapshot.labels.exists()
    assert restored_from_scratch() == indexed
    snapshot.labels.unlink()  # as a snapshot saved before the index existed
    assert restored_from_scratch() == indexed  # the item that is no record is restored, not indexed
    assert client.get_item(TableName=stack.results_table, Key=partial)["Item"] == partial
