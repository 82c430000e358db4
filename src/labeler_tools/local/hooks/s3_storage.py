"""S3 object bodies (``moto.s3.models.FakeKey``) in files on disk instead of in memory.

moto keeps every body in a ``SpooledTemporaryFile`` (``FakeKey._value_buffer``): in memory up to
``MOTO_S3_DEFAULT_KEY_BUFFER_SIZE``, and past it a temporary file that stays open, one fd per object.
Its ``ListObjectVersions`` deep-copies every version, body included (``__getstate__`` reads it); and
``FakeKey.instances_tracked`` keeps every key ever made alive, so even deleted bodies stay.

``install`` replaces the body's storage and nothing else: ``FakeKey.value`` (getter and setter),
``__getstate__``/``__setstate__`` (a copy shares the stored body). A body is a content-addressed file,
``<folder>/<sha256>``, written once (identical bodies, a copy, every version with the same bytes share
it), read on demand and closed at once; ``_value_buffer`` becomes a ``_BodyFile`` (no fd), which
moto's own ``etag`` and ``dispose`` still use. Two reads are lazy: GetObject answers a ``StoredBody``
that moto's range handling slices (a ranged GET reads only its range from disk) and ``key_response``
turns into bytes; CopyObject hands the source's ``StoredBody`` to the new key (no bytes read).

Nothing is deleted when moto drops a key (it never frees them, see above): ``sweep`` removes the
files no key in moto's buckets (any version, any multipart part) and no pinned snapshot refers to,
once they are older than a grace period (a request that is writing one has not stored its key yet).
Without ``use_folder`` the files go to a temporary folder removed at exit.
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
from moto.s3.models import FakeKey, S3Backend
from moto.s3.responses import S3Response

#: A body file nothing refers to is kept this long (seconds) after it was last written or shared.
SWEEP_GRACE_S = 120.0
_CHUNK = 1024 * 1024


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
        length = self.size - offset if length < 0 else length
        if length <= 0 or offset >= self.size:
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
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes | bytearray | memoryview) -> StoredBody:
        """Store ``data`` (once per content)."""
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        body = StoredBody(self.folder, hashlib.sha256(data).hexdigest(), len(data), md5)
        with self._lock:
            if not self._touch(body.path):
                partial = body.path.with_name(f".{body.sha256}.{threading.get_ident()}.partial")
                partial.write_bytes(data)
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

    def adopt(self, sha256: str, size: int, md5: str | None = None) -> StoredBody:
        """The stored file ``sha256`` (a snapshot's) as a body."""
        return self.share(StoredBody(self.folder, sha256, size, md5))

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
                    if entry.stat().st_mtime <= cutoff:
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    pass
        return removed

    def size_bytes(self) -> int:
        return sum(entry.stat().st_size for entry in os.scandir(self.folder) if entry.is_file())


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
    every part of an unfinished multipart upload, in every account."""
    for account in list(s3_models.s3_backends.values()):
        for backend in list(account.values()):
            for bucket in list(backend.buckets.values()):
                for versions in list(dict.values(bucket.keys)):
                    for key in list(versions):
                        if isinstance(key, FakeKey):
                            yield from _bodies_of([key])
                            # A completed multipart object keeps its upload, parts and all: a copy
                            # of the key (ListObjectVersions deep-copies) copies them too.
                            if key.multipart is not None:
                                yield from _bodies_of(key.multipart.parts.values())
                for multipart in list(bucket.multiparts.values()):
                    yield from _bodies_of(multipart.parts.values())


def _bodies_of(keys: Iterable[Any]) -> Iterator[str]:
    for key in list(keys):
        if isinstance(key._value_buffer, _BodyFile):
            yield key._value_buffer.body.sha256


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
    state["stored_body"] = stored_body(self)
    return state


def _set_state(self: FakeKey, state: dict[str, Any]) -> None:
    self.__dict__.update({k: v for k, v in state.items() if k not in ("stored_body", "value")})
    self.__dict__.pop("_value_buffer", None)
    _set_value(self, state["stored_body"] if "stored_body" in state else state["value"])
    self.lock = threading.Lock()


def _lazy(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` with its first read of a ``FakeKey.value`` answering the ``StoredBody`` (no bytes
    read): the key GetObject answers, the source CopyObject copies."""

    @functools.wraps(method)
    def lazy(*args: Any, **kwargs: Any) -> Any:
        _LAZY.active = True
        try:
            return method(*args, **kwargs)
        finally:
            _LAZY.active = False

    return lazy


def _key_response(self: S3Response, *args: Any, **kwargs: Any) -> Any:
    status, headers, body = _ORIGINALS["key_response"](self, *args, **kwargs)
    return status, headers, bytes(body) if isinstance(body, StoredBody) else body


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
        copy_object=S3Backend.copy_object,
    )
    FakeKey.value = property(_get_value, _set_value)  # type: ignore[assignment,method-assign]
    FakeKey.__getstate__ = _get_state  # type: ignore[method-assign]
    FakeKey.__setstate__ = _set_state  # type: ignore[method-assign]
    S3Response.get_object = _lazy(S3Response.get_object)  # type: ignore[method-assign]
    S3Response.key_response = _key_response  # type: ignore[method-assign]
    S3Backend.copy_object = _lazy(S3Backend.copy_object)  # type: ignore[method-assign]
