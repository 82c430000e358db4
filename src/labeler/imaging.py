"""Image inspection from header bytes only: real format from magic bytes, size from JPEG SOF / PNG IHDR.

Nothing here decodes pixels. Input comes through :class:`ByteSource` so that validate can read a
bounded prefix of an S3 object and, only when a JPEG's metadata segments push the frame header past
that prefix, a few small reads at offsets the segment lengths point to.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Protocol

from labeler.errors import ImageRejected, RejectionCode
from labeler.models import ImageFormat

#: Rekognition DetectLabels limits (S3Object input).
MAX_IMAGE_BYTES = 15 * 1024 * 1024
MIN_SIDE_PX = 80
MAX_SIDE_PX = 10_000
#: The single ranged GET validate makes.
HEADER_BYTES = 64 * 1024
#: Bound on the extra reads a JPEG with oversized metadata may need (each reads a few bytes).
MAX_EXTRA_READS = 8
EXTRA_READ_BYTES = 512

LABELABLE_FORMATS = frozenset({ImageFormat.JPEG, ImageFormat.PNG})

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
# SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_TEXT_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*", re.DOTALL)


class ByteSource(Protocol):
    """Random access to the first bytes of an object whose total size is known."""

    @property
    def size(self) -> int: ...

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer only at the end of the object)."""
        ...


@dataclass(frozen=True)
class BufferSource:
    """A ByteSource over bytes already in memory (tests, the local model, small files)."""

    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def read(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length]


@dataclass(frozen=True)
class ImageHeader:
    format: ImageFormat
    width: int
    height: int


def sniff_format(head: bytes) -> ImageFormat:
    """Name what the first bytes of a file are."""
    if head.startswith(b"\xff\xd8\xff"):
        return ImageFormat.JPEG
    if head.startswith(_PNG_SIGNATURE):
        return ImageFormat.PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ImageFormat.WEBP
    if head.startswith((b"GIF87a", b"GIF89a")):
        return ImageFormat.GIF
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(len(head), 64), 4)}
        if brands & _AVIF_BRANDS:
            return ImageFormat.AVIF
        if brands & _HEIF_BRANDS:
            return ImageFormat.HEIC
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return ImageFormat.TIFF
    if head.startswith(b"BM") and len(head) >= 14:
        return ImageFormat.BMP
    if head.startswith(b"\x00\x00\x01\x00"):
        return ImageFormat.ICO
    if head.startswith(b"%PDF-"):
        return ImageFormat.PDF
    text = head[_TEXT_START.match(head).end() :].lower()  # type: ignore[union-attr]
    if text.startswith(b"<svg") or (text.startswith(b"<!doctype svg")):
        return ImageFormat.SVG
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return ImageFormat.HTML
    return ImageFormat.NOT_AN_IMAGE


def _truncated(what: str) -> ImageRejected:
    return ImageRejected(RejectionCode.TRUNCATED_HEADER, f"The file ends before its {what} is complete.")


def _png_dimensions(_source: ByteSource, head: bytes) -> tuple[int, int]:
    if len(head) < 24:
        raise _truncated("PNG header (IHDR)")
    length, chunk_type = struct.unpack(">I4s", head[8:16])
    if chunk_type != b"IHDR" or length != 13:
        raise ImageRejected(RejectionCode.UNREADABLE_IMAGE, "The PNG file does not start with an IHDR chunk.")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def _jpeg_dimensions(source: ByteSource, head: bytes) -> tuple[int, int]:
    """Walk the JPEG marker segments to the first SOF and read its height and width."""
    buffer, buffer_offset = head, 0
    extra_reads = 0

    def window(offset: int, length: int) -> bytes:
        nonlocal buffer, buffer_offset, extra_reads
        if buffer_offset <= offset and offset + length <= buffer_offset + len(buffer):
            return buffer[offset - buffer_offset : offset - buffer_offset + length]
        if offset + length > source.size:
            raise _truncated("JPEG header")
        extra_reads += 1
        if extra_reads > MAX_EXTRA_READS:
            raise ImageRejected(
                RejectionCode.UNREADABLE_IMAGE, "The JPEG metadata is too long to find the image size."
            )
        buffer, buffer_offset = source.read(offset, max(length, EXTRA_READ_BYTES)), offset
        if len(buffer) < length:
            raise _truncated("JPEG header")
        return buffer[:length]

    offset = 2
    while True:
        marker_bytes = window(offset, 2)
        if marker_bytes[0] != 0xFF:
            raise ImageRejected(RejectionCode.UNREADABLE_IMAGE, "The JPEG structure is corrupt.")
        marker = marker_bytes[1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in _JPEG_STANDALONE:
            offset += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            raise ImageRejected(RejectionCode.UNREADABLE_IMAGE, "The JPEG file has no frame header.")
        (segment_length,) = struct.unpack(">H", window(offset + 2, 2))
        if segment_length < 2:
            raise ImageRejected(RejectionCode.UNREADABLE_IMAGE, "The JPEG structure is corrupt.")
        if marker in _JPEG_SOF_MARKERS:
            height, width = struct.unpack(">HH", window(offset + 5, 4))
            return width, height
        offset += 2 + segment_length


_DIMENSION_READERS = {ImageFormat.PNG: _png_dimensions, ImageFormat.JPEG: _jpeg_dimensions}


def inspect_image(source: ByteSource, head: bytes) -> ImageHeader:
    """Check an object against what the label backends accept; raise ImageRejected with a specific reason.

    ``head`` is the prefix already read from ``source`` (at most HEADER_BYTES).
    """
    if source.size == 0:
        raise ImageRejected(RejectionCode.EMPTY, "The file is empty (0 bytes).")
    if source.size > MAX_IMAGE_BYTES:
        raise ImageRejected(
            RejectionCode.TOO_LARGE,
            f"The file is {source.size / 1024 / 1024:.1f} MiB; "
            f"the limit is {MAX_IMAGE_BYTES // 1024 // 1024} MiB.",
        )
    detected = sniff_format(head)
    if detected not in LABELABLE_FORMATS:
        what = "not an image" if detected is ImageFormat.NOT_AN_IMAGE else f"a {detected.value} file"
        raise ImageRejected(
            RejectionCode.UNSUPPORTED_FORMAT,
            f"The file is {what}; only JPEG and PNG images can be labeled.",
        )
    width, height = _DIMENSION_READERS[detected](source, head)
    if width == 0 or height == 0:
        raise ImageRejected(
            RejectionCode.UNREADABLE_IMAGE, f"The {detected.value} header declares a 0 px side."
        )
    if width > MAX_SIDE_PX or height > MAX_SIDE_PX:
        raise ImageRejected(
            RejectionCode.DIMENSIONS_TOO_LARGE,
            f"The image is {width}x{height} px; each side must be at most {MAX_SIDE_PX:,} px.",
        )
    if width < MIN_SIDE_PX or height < MIN_SIDE_PX:
        raise ImageRejected(
            RejectionCode.TOO_SMALL,
            f"The image is {width}x{height} px; each side must be at least {MIN_SIDE_PX} px.",
        )
    return ImageHeader(format=detected, width=width, height=height)
