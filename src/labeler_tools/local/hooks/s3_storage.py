"""S3 object bodies (``moto.s3.models.FakeKey``) in files on disk instead of in memory.

moto keeps every body in a ``SpooledTemporaryFile`` (``FakeKey._value_buffer``): in memory up to
``MOTO_S3_DEFAULT_KEY_BUFFER_SIZE``, past it a temporary file that stays open, one fd per object. And
nothing is ever freed: ``FakeKey.instances_tracked`` keeps every key made (overwritten and deleted
versions too), and ``ListObjectVersions`` deep-copies every version of the bucket, body included
(``__getstate__`` reads it), into that list once more per call.

``install`` replaces the body's storage and nothing else: ``FakeKey.value`` (getter and setter), its
``__getstate__``/``__setstate__`` (a pickled key refers to its stored body) and a ``__deepcopy__``
for ListObjectVersions' copies of keys and delete markers (shallow and untracked: the listing only
sets ``is_latest`` on them, then drops them). A body is a content-addressed file, ``<folder>/<sha256>``,
written once (identical bodies, a copy, every version with the same bytes share it), read on demand
and closed at once; ``_value_buffer`` becomes a ``_BodyFile`` (no fd), which moto's own ``etag`` and
``dispose`` still use. Three reads are lazy, so no body passes through memory whole for them:
GetObject answers a ``StoredBody`` that moto's range handling slices (a ranged GET reads only its
range from disk) and ``key_response`` turns into bytes; CopyObject and UploadPartCopy hand the
source's ``StoredBody`` on (a copy reads nothing, a ranged part copy reads its range). Multipart
completion is moto's own: it joins the parts' bytes in memory, then stores the result.

An upload's request (werkzeug's) lives on in a reference cycle, and its cached body with it, until
the garbage collector's next pass over old objects: tens of bodies at a time (``_release``).
``key_response`` and ``bucket_response`` drop the body when they return.

Nothing is deleted when moto drops a key (it keeps them all, see above): ``sweep`` removes the files
that no key in moto's buckets (any version, any part of an unfinished multipart upload) and no pinned
snapshot refers to, once they are older than a grace period (a request writing one has not linked its
key yet). A completed upload's parts are disposed by moto (their buffers closed: a copy of one gets an
empty value), so their files go too. Without ``use_folder`` the files go to a temporary folder
removed at exit.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.s3 import models as s3_models
from moto.s3.models import FakeDeleteMarker, FakeKey, S3Backend
from moto.s3.responses import S3Response

#: A body file nothing refers to is kept this long (seconds) after it was last written or shared.
SWEEP_GRACE_S = 120.0


@dataclass(frozen=True)
class StoredBody:
    """One stored body: a file named by its sha256. It reads like the bytes moto expects where it
    slices or measures a value (``len``, ``body[a:b]``, ``bytes(body)``), reading only what is asked."""

    folder: Path
    sha256: str
    size: int
    #: The body's MD5 (a plain PUT's ETag) when known: a key made from this body needs no read for it.
    md5: str | None = None

    @property
    def path(self) -> Path:
        return self.folder / self.sha256

    def read(self, offset: int = 0, length: int = -1) -> bytes:
        length = self.size - offset if length < 0 else min(length, self.size - offset)
        if length <= 0:
            return b""
        with self.path.open("rb") as stream:
            stream.seek(offset)
            return stream.read(length)

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def __bytes__(self) -> bytes:
        return self.read()

    def __getitem__(self, index: slice) -> bytes:
        if not isinstance(index, slice) or index.step not in (None, 1):
            return self.read()[index]
        start, stop, _ = index.indices(self.size)
        return self.read(start, stop - start)


class _BodyFile:
    """What ``FakeKey._value_buffer`` is now: a read-only file over a ``StoredBody`` that holds no fd
    (moto's ``etag`` reads it in blocks; its ``dispose`` closes it)."""

    def __init__(self, body: StoredBody) -> None:
        self.body = body
        self.closed = False
        self._position = 0

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self.body.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        data = self.body.read(self._position, size)
        self._position += len(data)
        return data

    def close(self) -> None:
        self.closed = True


class BodyStore:
    """Content-addressed body files in ``folder``; ``pinned`` bodies (a snapshot's) survive a sweep."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pinned: frozenset[str] = frozenset()
        #: Held to link a file or to remove one, never while writing one.
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes | bytearray | memoryview) -> StoredBody:
        """Store ``data`` (once per content: a body stored already is only marked as used now)."""
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        body = StoredBody(self.folder, hashlib.sha256(data).hexdigest(), len(data), md5)
        with self._lock:
            if self._touch(body.path):
                return body
        partial = body.path.with_name(f".{body.sha256}.{threading.get_ident()}.partial")
        partial.write_bytes(data)
        with self._lock:
            if self._touch(body.path):  # another request stored the same bytes meanwhile
                partial.unlink()
            else:
                os.replace(partial, body.path)
        return body

    def share(self, body: StoredBody) -> StoredBody:
        """``body`` for one more key: its file is kept from the next sweep's grace period. A body
        of another folder (a store used before ``use_folder``) is copied into this one."""
        if body.folder != self.folder:
            return self.put(body.read())
        with self._lock:
            if not self._touch(body.path):
                raise FileNotFoundError(f"stored S3 body {body.sha256} is gone")
        return body

    @staticmethod
    def _touch(path: Path) -> bool:
        try:
            os.utime(path)
        except FileNotFoundError:
            return False
        return True

    def sweep(self, live: Iterable[str], grace_s: float = SWEEP_GRACE_S) -> int:
        """Remove the files not in ``live`` nor pinned, unchanged for ``grace_s``; returns how many."""
        keep = set(live) | self.pinned
        removed = 0
        cutoff = time.time() - grace_s
        for entry in os.scandir(self.folder):
            if entry.name in keep or entry.name.startswith("."):
                continue
            with self._lock:
                try:
                    if os.stat(entry.path).st_mtime <= cutoff:
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    pass
        return removed


class _Store:
    current: BodyStore | None = None
    temporary: Path | None = None


_STORE = _Store()
_LAZY = threading.local()
_ORIGINALS: dict[str, Any] = {}


def store() -> BodyStore:
    """The store new bodies go to (a temporary folder, removed at exit, until ``use_folder``)."""
    if _STORE.current is None:
        _STORE.current = _temporary_store()
    return _STORE.current


def _temporary_store() -> BodyStore:
    if _STORE.temporary is None:
        _STORE.temporary = Path(tempfile.mkdtemp(prefix="labeler-s3-bodies-"))
        atexit.register(shutil.rmtree, _STORE.temporary, True)
    return BodyStore(_STORE.temporary)


def use_folder(folder: Path | None) -> BodyStore:
    """Store new bodies in ``folder`` (the local stack's data dir) from now on; None: a temporary
    folder removed at exit."""
    current = _STORE.current
    if folder is None:
        if current is None or current.folder != _STORE.temporary:
            _STORE.current = _temporary_store()
    elif current is None or current.folder != folder:
        _STORE.current = BodyStore(folder)
    return store()


def stored_body(key: FakeKey) -> StoredBody:
    """The body of ``key`` as stored (no bytes read)."""
    buffer = key._value_buffer
    assert isinstance(buffer, _BodyFile), "labeler_tools.local.hooks.s3_storage is not installed"
    return buffer.body


def live_bodies() -> Iterator[str]:
    """The sha256 of every body a key of moto's S3 buckets refers to: every version of every key,
    every part of an unfinished multipart upload, in every account (table buckets too)."""
    for account in list(s3_models.s3_backends.values()):
        for backend in list(account.values()):
            buckets = [*backend.buckets.values(), *backend.table_buckets.values()]
            for bucket in buckets:
                for versions in list(dict.values(bucket.keys)):
                    for key in list(versions):
                        if isinstance(key, FakeKey) and isinstance(key._value_buffer, _BodyFile):
                            yield key._value_buffer.body.sha256
                for multipart in list(bucket.multiparts.values()):
                    for part in list(multipart.parts.values()):
                        if isinstance(part._value_buffer, _BodyFile):
                            yield part._value_buffer.body.sha256


def sweep(grace_s: float = SWEEP_GRACE_S) -> int:
    """Remove the body files nothing refers to any more (see the module docstring)."""
    for _ in range(5):
        try:
            live = set(live_bodies())
        except RuntimeError:  # a bucket changed while it was listed
            continue
        return store().sweep(live, grace_s)
    return 0


def _get_value(self: FakeKey) -> bytes | StoredBody:
    body = stored_body(self)
    if getattr(_LAZY, "active", False):
        _LAZY.active = False  # the one read _lazy stands for; any other (an event's target) gets bytes
        return body
    return body.read()


def _set_value(self: FakeKey, new_value: bytes | str | StoredBody) -> None:
    if isinstance(new_value, str):  # as moto's setter does
        new_value = new_value.encode("utf-8")
    body = store().share(new_value) if isinstance(new_value, StoredBody) else store().put(new_value)
    if self._etag is None:  # moto would read the body again for it (FakeKey.etag)
        self._etag = body.md5
    previous = self.__dict__.get("_value_buffer")
    if previous is not None and not isinstance(previous, _BodyFile):
        previous.close()  # the SpooledTemporaryFile FakeKey.__init__ made
    self._value_buffer = _BodyFile(body)  # type: ignore[assignment]
    self.contentsize = body.size


def _get_state(self: FakeKey) -> dict[str, Any]:
    state = self.__dict__.copy()
    del state["_value_buffer"], state["lock"]
    if self._value_buffer.closed:  # disposed (a completed upload's part): moto copies no value either
        state["value"] = b""
    else:
        state["stored_body"] = stored_body(self)
    return state


def _set_state(self: FakeKey, state: dict[str, Any]) -> None:
    self.__dict__.update({k: v for k, v in state.items() if k not in ("stored_body", "value")})
    self.__dict__.pop("_value_buffer", None)
    _set_value(self, state["stored_body"] if "stored_body" in state else state["value"])
    self.lock = threading.Lock()


def _listing_copy(self: FakeKey | FakeDeleteMarker, memo: dict[int, Any]) -> Any:
    """A copy for ListObjectVersions, which sets ``is_latest`` on it and drops it: made without
    ``BaseModel.__new__`` (which would keep it forever), sharing the body and everything else."""
    copied = object.__new__(type(self))
    copied.__dict__.update(self.__dict__)
    if isinstance(self, FakeKey):
        copied._value_buffer = _BodyFile(stored_body(self))  # type: ignore[union-attr]
        copied.lock = threading.Lock()  # type: ignore[union-attr]
        copied.disposed = True  # type: ignore[union-attr]  # its __del__ would warn otherwise
    memo[id(self)] = copied
    return copied


def _lazy(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` with its first read of a ``FakeKey.value`` answering the ``StoredBody`` (no bytes
    read): the key GetObject answers, the source CopyObject and UploadPartCopy copy."""

    @functools.wraps(method)
    def lazy(*args: Any, **kwargs: Any) -> Any:
        _LAZY.active = True
        try:
            return method(*args, **kwargs)
        finally:
            _LAZY.active = False

    return lazy


def _release(request: Any) -> None:
    """Drop ``request``'s body (werkzeug caches it as ``data`` and ``_cached_data``) and its environ's
    reference to it. Both requests live on in cycles until a full collection: a server request in
    the class Flask's debug mode makes for its ``files`` (``attach_enctype_error_multidict``), an
    in-process one (``normalize_request``) through its environ."""
    state = getattr(request, "__dict__", {})
    state.pop("data", None)
    state.pop("_cached_data", None)
    environ = getattr(request, "environ", None)
    if isinstance(environ, dict) and environ.get("werkzeug.request") is request:
        environ["werkzeug.request"] = None  # as Flask does when its request context ends


def _answering(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` (a request's entry point) answering bytes, and releasing its request when done."""

    @functools.wraps(method)
    def answering(self: S3Response, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            status, headers, body = method(self, request, *args, **kwargs)
        finally:
            _release(request)
        return status, headers, bytes(body) if isinstance(body, StoredBody) else body

    return answering


def install() -> None:
    """Keep S3 object bodies in files (see the module docstring)."""
    if _ORIGINALS:
        return
    _ORIGINALS.update(
        value=FakeKey.value,
        getstate=FakeKey.__getstate__,
        setstate=FakeKey.__setstate__,
        get_object=S3Response.get_object,
        key_response=S3Response.key_response,
        bucket_response=S3Response.bucket_response,
        copy_object=S3Backend.copy_object,
        upload_part_copy=S3Backend.upload_part_copy,
        key_deepcopy=vars(FakeKey).get("__deepcopy__"),
        marker_deepcopy=vars(FakeDeleteMarker).get("__deepcopy__"),
    )
    FakeKey.value = property(_get_value, _set_value)  # type: ignore[assignment,method-assign]
    FakeKey.__getstate__ = _get_state  # type: ignore[method-assign]
    FakeKey.__setstate__ = _set_state  # type: ignore[method-assign]
    FakeKey.__deepcopy__ = _listing_copy  # type: ignore[attr-defined]
    FakeDeleteMarker.__deepcopy__ = _listing_copy  # type: ignore[attr-defined]
    S3Response.get_object = _lazy(S3Response.get_object)  # type: ignore[method-assign]
    S3Response.key_response = _answering(S3Response.key_response)  # type: ignore[method-assign]
    S3Response.bucket_response = _answering(S3Response.bucket_response)  # type: ignore[method-assign]
    S3Backend.copy_object = _lazy(S3Backend.copy_object)  # type: ignore[method-assign]
    S3Backend.upload_part_copy = _lazy(S3Backend.upload_part_copy)  # type: ignore[method-assign]
