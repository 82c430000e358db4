"""Contract and behaviour tests for labeler_tools.local.hooks.s3_storage: a moto upgrade that moves
where a FakeKey keeps or reads its body fails here, and so does a body kept in memory or an fd per
object."""

from __future__ import annotations

import hashlib
import inspect
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from labeler_tools.deployment import LocalResources
from labeler_tools.local.hooks import s3_storage
from labeler_tools.local.server import LocalAws

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


def test_fakekey_still_keeps_and_reads_its_body_where_the_hook_replaces_it(local_aws: LocalAws) -> None:
    from moto.s3.models import FakeKey, FakeMultipart, S3Backend
    from moto.s3.responses import S3Response

    originals = s3_storage._ORIGINALS
    init = inspect.getsource(FakeKey.__init__)
    assert "self._value_buffer = tempfile.SpooledTemporaryFile(" in init
    assert init.index("self._value_buffer = tempfile") < init.index("self.value = value")
    assert "self._value_buffer.read()" in inspect.getsource(originals["value"].fget)
    assert "self._value_buffer.write(new_value)" in inspect.getsource(originals["value"].fset)
    assert 'state["value"] = self.value' in inspect.getsource(originals["getstate"])
    assert 'self.value = state["value"]' in inspect.getsource(originals["setstate"])
    # moto's own etag and dispose still use _value_buffer, as a file (our _BodyFile).
    assert "self._value_buffer.read(16 * 1024 * 1024)" in inspect.getsource(FakeKey.etag.fget)  # type: ignore[attr-defined]
    assert "self._value_buffer.close()" in inspect.getsource(FakeKey.dispose)
    # GetObject answers the value itself, which the range handling slices: the lazy read.
    get_object = inspect.getsource(originals["get_object"])
    assert get_object.count("key.value") == 2
    assert get_object.rstrip().endswith("return 200, response_headers, key.value")
    assert "content = response_content[begin : end + 1]" in inspect.getsource(S3Response._handle_range_header)
    assert "return cls().key_response(" in inspect.getsource(S3Response.key_dispatch)
    # CopyObject reads the source's value once, to hand it to put_object.
    copy_object = inspect.getsource(originals["copy_object"])
    assert copy_object.count(".value") == 1 and "value=src_key.value," in copy_object
    # Multipart completion and ListObjectVersions go through value and deepcopy (__getstate__).
    assert "total.extend(part.value)" in inspect.getsource(FakeMultipart.complete)
    assert "copy.deepcopy(version_key)" in inspect.getsource(S3Backend.list_object_versions)

    assert FakeKey.value.fget is s3_storage._get_value  # type: ignore[attr-defined]
    assert FakeKey.__getstate__ is s3_storage._get_state
    assert S3Response.key_response is s3_storage._key_response


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
    assert tail["Body"].read() == body[-10:]


def test_a_copy_shares_the_file_and_reads_no_bytes(
    local_aws: LocalAws, stack: LocalResources, prefix: str, reads: list[tuple[int, int]]
) -> None:
    s3 = local_aws.session().client("s3")
    body = os.urandom(100_000)
    s3.put_object(Bucket=stack.upload_bucket, Key=prefix + "src", Body=body, Metadata={"a": "1"})
    reads.clear()

    s3.copy_object(
        Bucket=stack.upload_bucket,
        Key=prefix + "dst",
        CopySource={"Bucket": stack.upload_bucket, "Key": prefix + "src"},
    )

    assert reads == []
    assert _body_file(stack, prefix + "dst") == _body_file(stack, prefix + "src")
    got = s3.get_object(Bucket=stack.upload_bucket, Key=prefix + "dst")
    assert got["Body"].read() == body and got["Metadata"] == {"a": "1"}


def test_a_multipart_upload_completes_into_one_stored_body(
    local_aws: LocalAws, stack: LocalResources, prefix: str
) -> None:
    s3 = local_aws.session().client("s3")
    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    upload = s3.create_multipart_upload(Bucket=stack.upload_bucket, Key=prefix + "mp", Metadata={"m": "v"})
    etags = [
        s3.upload_part(
            Bucket=stack.upload_bucket,
            Key=prefix + "mp",
            UploadId=upload["UploadId"],
            PartNumber=n,
            Body=part,
        )["ETag"]
        for n, part in enumerate(parts, start=1)
    ]
    done = s3.complete_multipart_upload(
        Bucket=stack.upload_bucket,
        Key=prefix + "mp",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": n} for n, etag in enumerate(etags, start=1)]},
    )

    got = s3.get_object(Bucket=stack.upload_bucket, Key=prefix + "mp")
    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"] == done["ETag"] and done["ETag"].endswith('-2"')
    # The completed key keeps its upload's parts, which a listing of versions copies with it.
    s3_storage.sweep(grace_s=0)
    listed = s3.list_object_versions(Bucket=stack.upload_bucket, Prefix=prefix + "mp")["Versions"]
    assert [version["Key"] for version in listed] == [prefix + "mp"]
    assert got["Metadata"] == {"m": "v"}
    assert _body_file(stack, prefix + "mp").name == hashlib.sha256(b"".join(parts)).hexdigest()


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
    listed = s3.list_object_versions(Bucket=stack.upload_bucket, Prefix=key)["Versions"]
    assert len(listed) == 3  # ListObjectVersions deep-copies every version: shares, reads nothing

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


def test_stored_objects_hold_no_open_file_each(
    local_aws: LocalAws, stack: LocalResources, prefix: str
) -> None:
    """moto's SpooledTemporaryFile, once past its buffer size, is an open file per object."""
    s3 = local_aws.session().client("s3")
    body = os.urandom(64 * 1024)
    before = len(os.listdir("/proc/self/fd"))
    for index in range(500):
        s3.put_object(Bucket=stack.upload_bucket, Key=f"{prefix}{index}", Body=index.to_bytes(4) + body)
    after = len(os.listdir("/proc/self/fd"))

    assert after - before < 10
    assert s3.get_object(Bucket=stack.upload_bucket, Key=f"{prefix}499")["Body"].read()[4:] == body
