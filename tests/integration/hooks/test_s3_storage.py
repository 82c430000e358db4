"""Contract and behaviour tests for labeler_tools.local.hooks.s3_storage: a moto upgrade that moves
where a FakeKey keeps or reads its body fails here, and so does a body kept in memory, a body read
whole where a range was asked for, an fd per object, or a listing's copies kept forever."""

from __future__ import annotations

import gc
import hashlib
import inspect
import os
import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from labeler_tools.deployment import LocalResources
from labeler_tools.local.hooks import s3_storage
from labeler_tools.local.server import REGION, LocalAws

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CopySourceTypeDef

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


def test_fakekey_still_keeps_and_reads_its_body_where_the_hook_replaces_it(local_aws: LocalAws) -> None:
    from moto.core.common_models import BaseModel
    from moto.s3.models import FakeKey, FakeMultipart, MultipartDict, S3Backend
    from moto.s3.responses import S3Response

    originals = s3_storage._ORIGINALS
    init = inspect.getsource(FakeKey.__init__)
    assert "self._value_buffer = tempfile.SpooledTemporaryFile(" in init
    assert (
        init.index("self._etag = etag")
        < init.index("self._value_buffer = tempfile")
        < init.index("self.value = value")
    )
    assert "self._value_buffer.read()" in inspect.getsource(originals["value"].fget)
    assert "self._value_buffer.write(new_value)" in inspect.getsource(originals["value"].fset)
    assert 'state["value"] = self.value' in inspect.getsource(originals["getstate"])
    assert 'state["value"] = ""' in inspect.getsource(originals["getstate"])  # a disposed key's
    assert 'self.value = state["value"]' in inspect.getsource(originals["setstate"])
    # moto's own etag and dispose still use _value_buffer, as a file (our _BodyFile).
    assert "self._value_buffer.read(16 * 1024 * 1024)" in inspect.getsource(FakeKey.etag.fget)  # type: ignore[attr-defined]
    assert "self._value_buffer.close()" in inspect.getsource(FakeKey.dispose)
    # A completed (or aborted) upload leaves bucket.multiparts, which disposes its parts.
    assert "del bucket.multiparts[multipart_id]" in inspect.getsource(S3Backend.complete_multipart_upload)
    assert "self[key].dispose()" in inspect.getsource(MultipartDict.__delitem__)
    # GetObject answers the value itself, which the range handling slices: the lazy read.
    get_object = inspect.getsource(originals["get_object"])
    assert get_object.count("key.value") == 2
    assert get_object.rstrip().endswith("return 200, response_headers, key.value")
    assert "content = response_content[begin : end + 1]" in inspect.getsource(S3Response._handle_range_header)
    # Every request enters through key_response or bucket_response (ambiguous_response picks one).
    assert "return cls().key_response(" in inspect.getsource(S3Response.key_dispatch)
    assert "return cls().bucket_response(" in inspect.getsource(S3Response.bucket_dispatch)
    assert "self.bucket_response(request, full_url, headers)" in inspect.getsource(
        S3Response.ambiguous_response
    )
    # CopyObject and UploadPartCopy read the source's value once, to hand it (or a slice) on.
    copy_object = inspect.getsource(originals["copy_object"])
    assert copy_object.count(".value") == 1 and "value=src_key.value," in copy_object
    part_copy = inspect.getsource(originals["upload_part_copy"])
    assert part_copy.count(".value") == 1 and "src_value = src_value[start_byte : end_byte + 1]" in part_copy
    # Multipart completion reads the parts' values; ListObjectVersions deep-copies every version and
    # delete marker (moto defines no __deepcopy__ of its own), and BaseModel.__new__ keeps every model.
    assert "total.extend(part.value)" in inspect.getsource(FakeMultipart.complete)
    assert "copy.deepcopy(version_key)" in inspect.getsource(S3Backend.list_object_versions)
    assert "cls.instances_tracked.append(instance)" in inspect.getsource(BaseModel.__new__)
    assert originals["key_deepcopy"] is None and originals["marker_deepcopy"] is None

    assert FakeKey.value.fget is s3_storage._get_value  # type: ignore[attr-defined]
    assert FakeKey.__getstate__ is s3_storage._get_state
    assert FakeKey.__deepcopy__ is s3_storage._listing_copy  # type: ignore[attr-defined]
    assert S3Response.key_response.__wrapped__ is originals["key_response"]  # type: ignore[attr-defined]
    assert S3Response.bucket_response.__wrapped__ is originals["bucket_response"]  # type: ignore[attr-defined]


@pytest.fixture
def prefix() -> str:
    """Keys no rule matches (no execution starts), fresh per test."""
    return f"outside-uploads/storage-{uuid.uuid4()}/"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(offset, length) of every read of a stored body."""
    seen: list[tuple[int, int]] = []
    read = s3_storage.StoredBody.read

    def recording(body: s3_storage.StoredBody, offset: int = 0, length: int = -1) -> bytes:
        data = read(body, offset, length)
        seen.append((offset, len(data)))
        return data

    monkeypatch.setattr(s3_storage.StoredBody, "read", recording)
    return seen


def _key(stack: LocalResources, name: str, version_id: str | None = None) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[stack.account]["aws"].get_object(stack.upload_bucket, name, version_id=version_id)


def _body_file(stack: LocalResources, name: str, version_id: str | None = None) -> Path:
    return s3_storage.stored_body(_key(stack, name, version_id)).path


def _body_file_of_part(stack: LocalResources, upload_id: str, number: int) -> Path:
    from moto.s3.models import s3_backends

    bucket = s3_backends[stack.account]["aws"].get_bucket(stack.upload_bucket)
    return s3_storage.stored_body(bucket.multiparts[upload_id].parts[number]).path


def _complete(s3: Any, bucket: str, key: str, upload_id: str, etags: list[str]) -> Any:
    return s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": n} for n, etag in enumerate(etags, start=1)]},
    )


def test_a_body_is_a_file_named_by_its_sha256_and_reads_back_with_its_metadata(
    local_aws: LocalAws, stack: LocalResources, prefix: str
) -> None:
    s3 = local_aws.session().client("s3")
    body = os.urandom(300_000)
    put = s3.put_object(
        Bucket=stack.upload_bucket,
        Key=prefix + "a.jpg",
        Body=body,
        ContentType="image/jpeg",
        Metadata={"original-name": "Holiday 1.jpg"},
    )

    path = _body_file(stack, prefix + "a.jpg")
    assert path.name == hashlib.sha256(body).hexdigest() and path.read_bytes() == body
    assert isinstance(_key(stack, prefix + "a.jpg")._value_buffer, s3_storage._BodyFile)
    got = s3.get_object(Bucket=stack.upload_bucket, Key=prefix + "a.jpg")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'  # noqa: S324
    assert got["ContentType"] == "image/jpeg" and got["Metadata"] == {"original-name": "Holiday 1.jpg"}
    assert got["ContentLength"] == len(body)
    head = s3.head_object(Bucket=stack.upload_bucket, Key=prefix + "a.jpg", Range="bytes=0-9")
    assert head["ContentLength"] == 10


def test_a_ranged_get_reads_only_its_range(
    local_aws: LocalAws, stack: LocalResources, prefix: str, reads: list[tuple[int, int]]
) -> None:
    s3 = local_aws.session().client("s3")
    body = os.urandom(2 * MIB)
    s3.put_object(Bucket=stack.upload_bucket, Key=prefix + "big.jpg", Body=body)
    reads.clear()

    got = s3.get_object(Bucket=stack.upload_bucket, Key=prefix + "big.jpg", Range="bytes=0-65535")

    assert got["Body"].read() == body[:65536] and got["ContentRange"] == f"bytes 0-65535/{len(body)}"
    assert reads == [(0, 65536)]
    tail = s3.get_object(Bucket=stack.upload_bucket, Key=prefix + "big.jpg", Range="bytes=-10")
    assert tail["Body"].read() == body[-10:] and reads[-1] == (len(body) - 10, 10)
    with pytest.raises(s3.exceptions.ClientError, match="InvalidRange"):
        s3.get_object(Bucket=stack.upload_bucket, Key=prefix + "big.jpg", Range=f"bytes={len(body)}-")


def test_a_copy_shares_the_file_and_reads_no_bytes(
    local_aws: LocalAws, stack: LocalResources, prefix: str, reads: list[tuple[int, int]]
) -> None:
    s3 = local_aws.session().client("s3")
    body = os.urandom(100_000)
    put = s3.put_object(Bucket=stack.upload_bucket, Key=prefix + "src", Body=body, Metadata={"a": "1"})
    reads.clear()

    copied = s3.copy_object(
        Bucket=stack.upload_bucket,
        Key=prefix + "dst",
        CopySource={"Bucket": stack.upload_bucket, "Key": prefix + "src"},
    )

    assert reads == []
    assert _body_file(stack, prefix + "dst") == _body_file(stack, prefix + "src")
    assert copied["CopyObjectResult"]["ETag"] == put["ETag"]
    got = s3.get_object(Bucket=stack.upload_bucket, Key=prefix + "dst")
    assert got["Body"].read() == body and got["Metadata"] == {"a": "1"}


def test_a_multipart_upload_completes_into_one_stored_body_and_its_parts_files_go(
    local_aws: LocalAws, stack: LocalResources, prefix: str
) -> None:
    s3 = local_aws.session().client("s3")
    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    upload_id = s3.create_multipart_upload(
        Bucket=stack.upload_bucket, Key=prefix + "mp", Metadata={"m": "v"}
    )["UploadId"]
    etags = [
        s3.upload_part(
            Bucket=stack.upload_bucket, Key=prefix + "mp", UploadId=upload_id, PartNumber=n, Body=part
        )["ETag"]
        for n, part in enumerate(parts, start=1)
    ]
    part_files = [_body_file_of_part(stack, upload_id, n) for n in (1, 2)]
    s3_storage.sweep(grace_s=0)
    assert all(path.exists() for path in part_files)  # an unfinished upload's parts are kept

    done = _complete(s3, stack.upload_bucket, prefix + "mp", upload_id, etags)

    got = s3.get_object(Bucket=stack.upload_bucket, Key=prefix + "mp")
    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"] == done["ETag"] and done["ETag"].endswith('-2"')
    assert got["Metadata"] == {"m": "v"}
    assert _body_file(stack, prefix + "mp").name == hashlib.sha256(b"".join(parts)).hexdigest()
    # moto disposed the parts (the completed key still refers to them): their files go, and a listing
    # or a pickled copy of the key, which takes its upload along, still works.
    s3_storage.sweep(grace_s=0)
    assert not any(path.exists() for path in part_files)
    listed = s3.list_object_versions(Bucket=stack.upload_bucket, Prefix=prefix + "mp")["Versions"]
    assert [(version["Key"], version["ETag"]) for version in listed] == [(prefix + "mp", done["ETag"])]
    copied = pickle.loads(pickle.dumps(_key(stack, prefix + "mp")))  # noqa: S301 - our own bytes
    assert copied.value == b"".join(parts) and copied.multipart.parts[1].value == b""


def test_a_part_copied_from_a_range_reads_only_that_range(
    local_aws: LocalAws, stack: LocalResources, prefix: str, reads: list[tuple[int, int]]
) -> None:
    s3 = local_aws.session().client("s3")
    original = os.urandom(6 * MIB)
    s3.put_object(Bucket=stack.upload_bucket, Key=prefix + "src", Body=original)
    bucket, key = stack.upload_bucket, prefix + "joined"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    source: CopySourceTypeDef = {"Bucket": bucket, "Key": prefix + "src"}
    reads.clear()

    ranged = s3.upload_part_copy(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        PartNumber=1,
        CopySource=source,
        CopySourceRange=f"bytes=0-{5 * MIB - 1}",
    )
    whole = s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=2, CopySource=source)

    assert reads == [(0, 5 * MIB)]  # the whole-object part shares the source's file
    assert _body_file_of_part(stack, upload_id, 2) == _body_file(stack, prefix + "src")
    etags = [ranged["CopyPartResult"]["ETag"], whole["CopyPartResult"]["ETag"]]
    _complete(s3, bucket, key, upload_id, etags)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == original[: 5 * MIB] + original


def test_versions_keep_their_own_bytes_and_deleting_one_keeps_bytes_another_shares(
    local_aws: LocalAws, stack: LocalResources, prefix: str
) -> None:
    s3 = local_aws.session().client("s3")
    key = prefix + "v"
    first, second = os.urandom(50_000), os.urandom(50_000)
    versions = [
        s3.put_object(Bucket=stack.upload_bucket, Key=key, Body=body)["VersionId"]
        for body in (first, second, first)
    ]
    shared, other = _body_file(stack, key, versions[0]), _body_file(stack, key, versions[1])
    assert shared == _body_file(stack, key, versions[2]) and shared != other

    s3.delete_object(Bucket=stack.upload_bucket, Key=key, VersionId=versions[0])
    s3_storage.sweep(grace_s=0)
    assert shared.exists()
    for version, body in ((versions[1], second), (versions[2], first)):
        assert s3.get_object(Bucket=stack.upload_bucket, Key=key, VersionId=version)["Body"].read() == body

    for version in versions[1:]:
        s3.delete_object(Bucket=stack.upload_bucket, Key=key, VersionId=version)
    s3_storage.sweep(grace_s=0)
    assert not shared.exists() and not other.exists()


def test_a_body_nothing_refers_to_is_kept_for_the_grace_period(
    local_aws: LocalAws, stack: LocalResources, prefix: str
) -> None:
    s3 = local_aws.session().client("s3")
    version = s3.put_object(Bucket=stack.upload_bucket, Key=prefix + "g", Body=os.urandom(1000))["VersionId"]
    path = _body_file(stack, prefix + "g")
    s3.delete_object(Bucket=stack.upload_bucket, Key=prefix + "g", VersionId=version)

    s3_storage.sweep()
    assert path.exists()
    s3_storage.sweep(grace_s=0)
    assert not path.exists()


def test_listing_versions_reads_no_body_and_keeps_no_copy(
    local_aws: LocalAws, stack: LocalResources, prefix: str, reads: list[tuple[int, int]]
) -> None:
    """moto deep-copies every version of the bucket for each ListObjectVersions (the cleanup function
    makes one per deletion) and kept each copy, and its body, for the life of the process."""
    from moto.s3.models import FakeDeleteMarker, FakeKey

    s3 = local_aws.session().client("s3")
    put = [
        s3.put_object(Bucket=stack.upload_bucket, Key=f"{prefix}{n}", Body=os.urandom(5000)) for n in range(3)
    ]
    s3.delete_object(Bucket=stack.upload_bucket, Key=f"{prefix}2")  # a delete marker
    reads.clear()

    def tracked() -> tuple[int, int]:
        return len(FakeKey.instances_tracked), len(FakeDeleteMarker.instances_tracked)  # type: ignore[attr-defined]

    before = tracked()
    for _ in range(3):
        listed = s3.list_object_versions(Bucket=stack.upload_bucket, Prefix=prefix)

    assert tracked() == before
    assert reads == []
    assert [(v["Key"], v["ETag"], v["Size"], v["IsLatest"]) for v in listed["Versions"]] == [
        (f"{prefix}{n}", put[n]["ETag"], 5000, n != 2) for n in range(3)
    ]
    assert [(m["Key"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [(f"{prefix}2", True)]
    assert "is_latest" not in vars(_key(stack, f"{prefix}0"))  # set on the copies only


def test_stored_objects_hold_no_open_file_each(
    local_aws: LocalAws, stack: LocalResources, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's SpooledTemporaryFile, once past its buffer size, is an open file per object."""
    monkeypatch.setenv("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", "1024")  # moto's would roll over at once
    s3 = local_aws.session().client("s3")
    body = os.urandom(64 * 1024)
    before = len(os.listdir("/proc/self/fd"))
    for index in range(500):
        s3.put_object(Bucket=stack.upload_bucket, Key=f"{prefix}{index}", Body=index.to_bytes(4) + body)
    after = len(os.listdir("/proc/self/fd"))

    assert after - before < 10
    assert s3.get_object(Bucket=stack.upload_bucket, Key=f"{prefix}499")["Body"].read()[4:] == body


@pytest.fixture
def collector_off() -> Iterator[None]:
    """No cyclic garbage collection while the test runs: what it finds alive is alive by reference."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _requests_holding_a_body() -> int:
    from werkzeug.wrappers import Request

    return sum(
        1
        for thing in gc.get_objects()
        if isinstance(thing, Request) and len(thing.__dict__.get("_cached_data") or b"") >= MIB
    )


def test_an_uploads_body_is_freed_when_its_request_ends(
    local_aws: LocalAws, stack: LocalResources, prefix: str, collector_off: None
) -> None:
    """Over HTTP (Flask's debug helper keeps the request in a cycle) and in process (its environ
    does), each upload's body would otherwise wait for a full collection: tens of bodies at once."""
    over_http = boto3.client("s3", endpoint_url=local_aws.endpoint_url, region_name=REGION)
    in_process = local_aws.session().client("s3")
    body = os.urandom(2 * MIB)
    for index, s3 in enumerate([over_http, over_http, in_process, in_process]):
        s3.put_object(Bucket=stack.upload_bucket, Key=f"{prefix}{index}", Body=body)

    assert _requests_holding_a_body() == 0
    assert in_process.get_object(Bucket=stack.upload_bucket, Key=f"{prefix}0")["Body"].read() == body
