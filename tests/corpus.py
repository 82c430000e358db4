"""Test images generated on the fly: one valid file per supported flavour and one per rejection class."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from PIL import Image

from labeler.errors import RejectionCode
from labeler.imaging import MAX_EXTRA_READS, MAX_IMAGE_BYTES
from labeler_tools.samples import photo_like


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _rgb(width: int, height: int) -> Image.Image:
    return Image.open(io.BytesIO(photo_like(width, height, image_format="PNG"))).convert("RGB")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_declared_size(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares any size (a decompression bomb when large); one tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def jpeg_with_large_metadata(app_segments: int = 2) -> bytes:
    """A valid JPEG whose APPn segments push the frame header (SOF) past the first 64 KiB."""
    jpeg = photo_like(320, 240)
    padding = b"".join(b"\xff\xe2" + struct.pack(">H", 65535) + b"\x00" * 65533 for _ in range(app_segments))
    return jpeg[:2] + padding + jpeg[2:]


def jpeg_header(*, width: int, height: int, before: bytes = b"", sof_marker: int = 0xC0) -> bytes:
    """The bytes of a JPEG up to its frame header, as inspection reads them: SOI, ``before`` (segments,
    fill bytes), then a baseline SOF declaring ``height`` and ``width``; no scan follows."""
    components = b"\x01\x22\x00" + b"\x02\x11\x01" + b"\x03\x11\x01"
    frame = struct.pack(">BHHB", 8, height, width, 3) + components
    return b"\xff\xd8" + before + bytes([0xFF, sof_marker]) + struct.pack(">H", 2 + len(frame)) + frame


def heic_signature() -> bytes:
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + b"\x00" * 64


@dataclass(frozen=True)
class Rejected:
    name: str
    data: bytes
    code: RejectionCode
    mentions: str  # a word the human-readable reason must contain


def valid_images() -> dict[str, bytes]:
    base = _rgb(320, 240)
    return {
        "jpeg-640x480": photo_like(640, 480),
        "jpeg-progressive": encode(base, "JPEG", progressive=True, quality=80),
        "jpeg-cmyk": encode(base.convert("CMYK"), "JPEG"),
        "jpeg-grayscale": encode(base.convert("L"), "JPEG"),
        "png-rgb": encode(base, "PNG"),
        "png-palette": encode(base.convert("P"), "PNG"),
        "png-grayscale": encode(base.convert("L"), "PNG"),
        "png-16bit": encode(base.convert("I;16"), "PNG"),
        "jpeg-80x80-minimum": photo_like(80, 80),
        "jpeg-large-metadata": jpeg_with_large_metadata(),
    }


def rejected_images() -> list[Rejected]:
    small = _rgb(120, 90)
    jpeg = photo_like(320, 240)
    png = encode(small, "PNG")
    return [
        Rejected("empty", b"", RejectionCode.EMPTY, "empty"),
        Rejected("webp", encode(small, "WEBP"), RejectionCode.UNSUPPORTED_FORMAT, "WebP"),
        Rejected("gif", encode(small, "GIF"), RejectionCode.UNSUPPORTED_FORMAT, "GIF"),
        Rejected("heic", heic_signature(), RejectionCode.UNSUPPORTED_FORMAT, "HEIC"),
        Rejected("tiff", encode(small, "TIFF"), RejectionCode.UNSUPPORTED_FORMAT, "TIFF"),
        Rejected("bmp", encode(small, "BMP"), RejectionCode.UNSUPPORTED_FORMAT, "BMP"),
        Rejected("ico", encode(small, "ICO"), RejectionCode.UNSUPPORTED_FORMAT, "ICO"),
        Rejected("pdf", encode(small, "PDF"), RejectionCode.UNSUPPORTED_FORMAT, "PDF"),
        Rejected(
            "svg",
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            RejectionCode.UNSUPPORTED_FORMAT,
            "SVG",
        ),
        Rejected(
            "html", b"<!DOCTYPE html><html><body>hi</body></html>", RejectionCode.UNSUPPORTED_FORMAT, "HTML"
        ),
        Rejected(
            "text", b"just some text, named photo.jpg", RejectionCode.UNSUPPORTED_FORMAT, "not an image"
        ),
        Rejected("truncated-jpeg-header", jpeg[:100], RejectionCode.TRUNCATED_HEADER, "JPEG"),
        Rejected("truncated-png-header", png[:20], RejectionCode.TRUNCATED_HEADER, "PNG"),
        Rejected("tiny-50x50", photo_like(50, 50), RejectionCode.TOO_SMALL, "50x50"),
        Rejected(
            "bomb-100000px",
            png_with_declared_size(100_000, 100_000),
            RejectionCode.DIMENSIONS_TOO_LARGE,
            "100000x100000",
        ),
        Rejected(
            "too-large-16MiB", jpeg + b"\x00" * (16 * 1024 * 1024 - len(jpeg)), RejectionCode.TOO_LARGE, "MiB"
        ),
        # Headers that lie or break: each must end REJECTED with its own reason, never reach a model.
        Rejected("side-79px", jpeg_header(width=79, height=300), RejectionCode.TOO_SMALL, "79x300"),
        Rejected(
            "side-40000px",
            jpeg_header(width=40_000, height=100),
            RejectionCode.DIMENSIONS_TOO_LARGE,
            "40000x100",
        ),
        Rejected("jpeg-0px-height", jpeg_header(width=100, height=0), RejectionCode.UNREADABLE_IMAGE, "0 px"),
        Rejected("png-0px-width", png_with_declared_size(0, 100), RejectionCode.UNREADABLE_IMAGE, "0 px"),
        Rejected(
            "png-first-chunk-not-ihdr",
            png[:12] + b"IDAT" + png[16:],
            RejectionCode.UNREADABLE_IMAGE,
            "IHDR",
        ),
        Rejected(
            "jpeg-corrupt-structure",
            b"\xff\xd8\xff\xe0\x00\x04\x00\x00\x00\xc0" + b"\x00" * 200,
            RejectionCode.UNREADABLE_IMAGE,
            "corrupt",
        ),
        Rejected(
            "jpeg-no-frame-header",
            b"\xff\xd8\xff\xd9" + b"\x00" * 200,
            RejectionCode.UNREADABLE_IMAGE,
            "frame",
        ),
        Rejected(
            "jpeg-metadata-too-long",
            jpeg_with_large_metadata(app_segments=MAX_EXTRA_READS + 1),
            RejectionCode.UNREADABLE_IMAGE,
            "too long",
        ),
        Rejected(
            "mp4",
            struct.pack(">I", 24) + b"ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64,
            RejectionCode.UNSUPPORTED_FORMAT,
            "not an image",
        ),
        Rejected(
            "wav",
            b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64,
            RejectionCode.UNSUPPORTED_FORMAT,
            "not an image",
        ),
    ]


def padded_jpeg(total_bytes: int = MAX_IMAGE_BYTES - 1024) -> bytes:
    """A JPEG padded after its end marker to just under the size limit (validate must not read it all)."""
    jpeg = photo_like(640, 480)
    return jpeg + b"\x00" * (total_bytes - len(jpeg))
