"""The header rules, one boundary at a time: what is accepted, what is refused, and what the user is told.

Images are built from bytes (a PNG IHDR, a JPEG marker walk) so each case states exactly the header
it tests; ``tests/unit/test_imaging.py`` covers real encoder output.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import pytest

from labeler.errors import ImageRejected, RejectionCode
from labeler.imaging import (
    EXTRA_READ_BYTES,
    HEADER_BYTES,
    MAX_EXTRA_READS,
    MAX_IMAGE_BYTES,
    ImageHeader,
    inspect_image,
    sniff_format,
)
from labeler.models import ImageFormat
from tests.corpus import jpeg_header, png_with_declared_size


@dataclass
class RecordingSource:
    """A ByteSource over ``data`` that may claim a larger ``declared_size`` (the rest reads as nothing,
    as when an object shrinks between the size and the read), recording each read."""

    data: bytes
    declared_size: int | None = None
    reads: list[tuple[int, int]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.data) if self.declared_size is None else self.declared_size

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return self.data[offset : offset + length]


def inspect(data: bytes, declared_size: int | None = None) -> ImageHeader:
    return inspect_image(RecordingSource(data, declared_size), data[:HEADER_BYTES])


def rejection(data: bytes, declared_size: int | None = None) -> tuple[RejectionCode, str]:
    with pytest.raises(ImageRejected) as raised:
        inspect(data, declared_size)
    return raised.value.code, raised.value.reason


# --- sides: the same rules for both formats ----------------------------------------------------------

BOTH_FORMATS = pytest.mark.parametrize(
    ("image_format", "build"),
    [
        (ImageFormat.PNG, png_with_declared_size),
        (ImageFormat.JPEG, lambda width, height: jpeg_header(width=width, height=height)),
    ],
    ids=["png", "jpeg"],
)


@BOTH_FORMATS
@pytest.mark.parametrize(("width", "height"), [(80, 80), (10_000, 10_000), (80, 10_000), (10_000, 80)])
def test_sides_from_80_to_10000_px_are_accepted(
    image_format: ImageFormat, build: object, width: int, height: int
) -> None:
    assert inspect(build(width, height)) == ImageHeader(image_format, width, height)  # type: ignore[operator]


@BOTH_FORMATS
@pytest.mark.parametrize(("width", "height"), [(79, 80), (80, 79), (50, 300), (300, 50), (1, 1)])
def test_a_side_under_80_px_is_too_small(
    image_format: ImageFormat, build: object, width: int, height: int
) -> None:
    assert rejection(build(width, height)) == (  # type: ignore[operator]
        RejectionCode.TOO_SMALL,
        f"The image is {width}x{height} px; each side must be at least 80 px.",
    )


@BOTH_FORMATS
@pytest.mark.parametrize(
    ("width", "height"), [(10_001, 10_000), (10_000, 10_001), (10_001, 50), (50, 40_000)]
)
def test_a_side_over_10000_px_is_too_large_even_when_the_other_is_too_small(
    image_format: ImageFormat, build: object, width: int, height: int
) -> None:
    assert rejection(build(width, height)) == (  # type: ignore[operator]
        RejectionCode.DIMENSIONS_TOO_LARGE,
        f"The image is {width}x{height} px; each side must be at most 10,000 px.",
    )


@BOTH_FORMATS
@pytest.mark.parametrize(("width", "height"), [(0, 100), (100, 0), (0, 0)])
def test_a_declared_side_of_0_px_is_unreadable(
    image_format: ImageFormat, build: object, width: int, height: int
) -> None:
    assert rejection(build(width, height)) == (  # type: ignore[operator]
        RejectionCode.UNREADABLE_IMAGE,
        f"The {image_format.value} header declares a 0 px side.",
    )


def test_jpeg_sides_are_unsigned_so_40000_px_is_too_large_not_negative() -> None:
    assert rejection(jpeg_header(width=40_000, height=40_000))[0] is RejectionCode.DIMENSIONS_TOO_LARGE
    assert rejection(jpeg_header(width=65_535, height=100))[0] is RejectionCode.DIMENSIONS_TOO_LARGE


def test_jpeg_height_comes_before_width_in_the_frame_header() -> None:
    assert inspect(jpeg_header(width=640, height=90)) == ImageHeader(ImageFormat.JPEG, 640, 90)


def test_png_sides_are_unsigned_32_bit() -> None:
    assert rejection(png_with_declared_size(2**31, 100))[1].startswith("The image is 2147483648x100 px")


# --- file size -----------------------------------------------------------------------------------------


def test_the_file_size_limit_is_15_mib_inclusive() -> None:
    image = jpeg_header(width=640, height=480)
    assert inspect(image, declared_size=MAX_IMAGE_BYTES).width == 640
    assert rejection(image, declared_size=MAX_IMAGE_BYTES + 1) == (
        RejectionCode.TOO_LARGE,
        "The file is 15.0 MiB; the limit is 15 MiB.",
    )
    assert rejection(image, declared_size=24 * 1024 * 1024 + 300 * 1024)[1] == (
        "The file is 24.3 MiB; the limit is 15 MiB."
    )
    # One decimal hides a wrong divisor near 15 MiB (1025 gives 15.0 too); at 100 MiB it shows.
    assert (
        rejection(image, declared_size=100 * 1024 * 1024)[1] == "The file is 100.0 MiB; the limit is 15 MiB."
    )


def test_an_empty_file_is_empty_before_anything_else() -> None:
    assert rejection(b"") == (RejectionCode.EMPTY, "The file is empty (0 bytes).")
    assert rejection(b"", declared_size=0)[0] is RejectionCode.EMPTY
    assert rejection(b"x")[0] is RejectionCode.UNSUPPORTED_FORMAT


# --- PNG -----------------------------------------------------------------------------------------------


def test_a_png_must_start_with_a_13_byte_ihdr() -> None:
    valid = png_with_declared_size(100, 100)
    not_ihdr = valid[:12] + b"IDAT" + valid[16:]
    wrong_length = valid[:8] + struct.pack(">I", 14) + valid[12:]
    for data in (not_ihdr, wrong_length):
        assert rejection(data) == (
            RejectionCode.UNREADABLE_IMAGE,
            "The PNG file does not start with an IHDR chunk.",
        )


def test_a_png_needs_24_bytes_to_be_measured() -> None:
    valid = png_with_declared_size(100, 120)
    assert inspect(valid[:24]) == ImageHeader(ImageFormat.PNG, 100, 120)
    assert rejection(valid[:23]) == (
        RejectionCode.TRUNCATED_HEADER,
        "The file ends before its PNG header (IHDR) is complete.",
    )


# --- JPEG marker walk ----------------------------------------------------------------------------------


def test_fill_bytes_and_markers_without_length_are_stepped_over() -> None:
    # FF FF fill bytes, then RST0, RST7 and TEM (01): none of them has a length field.
    before = b"\xff\xff\xff" + b"\xff\xd0" + b"\xff\xd7" + b"\xff\x01"
    assert inspect(jpeg_header(width=300, height=200, before=before)) == ImageHeader(
        ImageFormat.JPEG, 300, 200
    )


@pytest.mark.parametrize(
    "marker", [0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF]
)
def test_every_start_of_frame_marker_gives_the_size(marker: int) -> None:
    assert inspect(jpeg_header(width=120, height=90, sof_marker=marker)).height == 90


@pytest.mark.parametrize("marker", [0xC4, 0xC8, 0xCC, 0xDB, 0xDD, 0xE0, 0xEF, 0xFE, 0xBF, 0xD8])
def test_segments_that_share_the_range_or_carry_tables_are_skipped(marker: int) -> None:
    # A segment that would read as a 1x1 frame if it were taken for one, then the real frame header.
    decoy = bytes([0xFF, marker]) + struct.pack(">HBHH", 8, 8, 1, 1) + b"\x00"
    assert inspect(jpeg_header(width=400, height=300, before=decoy)) == ImageHeader(
        ImageFormat.JPEG, 400, 300
    )


@pytest.mark.parametrize(("marker", "name"), [(0xD9, "end of image"), (0xDA, "start of scan")])
def test_a_scan_or_the_end_before_any_frame_header_is_unreadable(marker: int, name: str) -> None:
    data = (
        b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 4) + b"\x00\x00" + bytes([0xFF, marker]) + b"\x00" * 200
    )
    assert rejection(data) == (RejectionCode.UNREADABLE_IMAGE, "The JPEG file has no frame header."), name


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0" + struct.pack(">H", 4) + b"\x00\x00" + b"\x00\xc0" + b"\x00" * 200,
        b"\xff\xd8\xff\xe0" + struct.pack(">H", 1) + b"\x00" * 200,
        b"\xff\xd8\xff\xe0" + struct.pack(">H", 0) + b"\x00" * 200,
    ],
    ids=["no-marker-prefix", "length-1", "length-0"],
)
def test_a_broken_marker_structure_is_corrupt(data: bytes) -> None:
    assert rejection(data) == (RejectionCode.UNREADABLE_IMAGE, "The JPEG structure is corrupt.")


def test_a_segment_of_length_2_is_empty_and_the_walk_goes_on() -> None:
    before = b"\xff\xe1" + struct.pack(">H", 2)
    assert inspect(jpeg_header(width=81, height=82, before=before)) == ImageHeader(ImageFormat.JPEG, 81, 82)


@pytest.mark.parametrize("cut", [1, 3, 5, 8])
def test_a_jpeg_that_ends_inside_its_header_is_truncated(cut: int) -> None:
    # jpeg_header: SOI (2), then the frame header: marker (2), length (2), precision (1), height, width.
    data = jpeg_header(width=200, height=100)
    assert rejection(data[: 2 + cut]) == (
        RejectionCode.TRUNCATED_HEADER,
        "The file ends before its JPEG header is complete.",
    )


APP_SEGMENT = b"\xff\xe2" + struct.pack(">H", 65535) + b"\x00" * 65533


def test_metadata_past_the_first_read_costs_one_small_read_per_segment() -> None:
    segments = 3
    data = jpeg_header(width=320, height=240, before=APP_SEGMENT * segments)
    source = RecordingSource(data)
    assert inspect_image(source, data[:HEADER_BYTES]) == ImageHeader(ImageFormat.JPEG, 320, 240)
    # Segment n starts at 2 + n * 65537; the first one past 64 KiB is the second.
    assert source.reads == [(2 + n * len(APP_SEGMENT), EXTRA_READ_BYTES) for n in range(1, segments + 1)]


def test_at_most_8_extra_reads_are_made_to_find_the_frame_header() -> None:
    enough = jpeg_header(width=320, height=240, before=APP_SEGMENT * MAX_EXTRA_READS)
    source = RecordingSource(enough)
    assert inspect_image(source, enough[:HEADER_BYTES]).width == 320
    assert len(source.reads) == MAX_EXTRA_READS

    too_many = jpeg_header(width=320, height=240, before=APP_SEGMENT * (MAX_EXTRA_READS + 1))
    source = RecordingSource(too_many)
    with pytest.raises(ImageRejected) as raised:
        inspect_image(source, too_many[:HEADER_BYTES])
    assert (raised.value.code, raised.value.reason) == (
        RejectionCode.UNREADABLE_IMAGE,
        "The JPEG metadata is too long to find the image size.",
    )
    assert len(source.reads) == MAX_EXTRA_READS


def test_a_frame_header_that_straddles_the_first_read_costs_one_more_read() -> None:
    # The APP segment ends 3 bytes before the end of the first 64 KiB: the frame header's marker and
    # the first byte of its length are in the head, the rest is not.
    filler = HEADER_BYTES - 2 - 3 - 4
    before = b"\xff\xe1" + struct.pack(">H", filler + 2) + b"\x00" * filler
    data = jpeg_header(width=500, height=400, before=before)
    source = RecordingSource(data)
    assert inspect_image(source, data[:HEADER_BYTES]) == ImageHeader(ImageFormat.JPEG, 500, 400)
    assert len(source.reads) == 1


def test_a_segment_that_points_past_the_end_of_the_file_is_truncated_without_a_read() -> None:
    data = b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", 65535) + b"\x00" * 100
    source = RecordingSource(data)
    with pytest.raises(ImageRejected) as raised:
        inspect_image(source, data)
    assert raised.value.code is RejectionCode.TRUNCATED_HEADER
    assert source.reads == []


def test_an_object_shorter_than_its_size_said_is_truncated() -> None:
    data = jpeg_header(width=320, height=240, before=APP_SEGMENT * 2)
    head = data[:HEADER_BYTES]
    shrunk = RecordingSource(data[: 2 * len(APP_SEGMENT)], declared_size=len(data))
    with pytest.raises(ImageRejected) as raised:
        inspect_image(shrunk, head)
    assert (raised.value.code, raised.value.reason) == (
        RejectionCode.TRUNCATED_HEADER,
        "The file ends before its JPEG header is complete.",
    )
    assert len(shrunk.reads) == 2


def test_a_marker_cut_after_its_first_byte_is_truncated_without_a_read() -> None:
    # The segment ends one byte before the end of the file: the next marker has only its FF.
    data = b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", 65535) + b"\x00" * 65533 + b"\xff"
    source = RecordingSource(data)
    with pytest.raises(ImageRejected) as raised:
        inspect_image(source, data[:HEADER_BYTES])
    assert raised.value.code is RejectionCode.TRUNCATED_HEADER
    assert source.reads == []


def test_a_frame_header_whose_size_ends_the_file_past_the_first_read_is_measured() -> None:
    # The frame header's marker and length end exactly where the first read ends; its height and width
    # are the last 4 bytes of the file: one read of exactly what is left.
    sof = HEADER_BYTES - 4
    filler = sof - 2 - 4
    before = b"\xff\xe1" + struct.pack(">H", filler + 2) + b"\x00" * filler
    data = jpeg_header(width=700, height=600, before=before)[: sof + 9]
    source = RecordingSource(data)
    assert inspect_image(source, data[:HEADER_BYTES]) == ImageHeader(ImageFormat.JPEG, 700, 600)
    assert source.reads == [(sof + 5, EXTRA_READ_BYTES)]


def test_an_end_marker_in_the_last_two_bytes_is_read_as_a_marker() -> None:
    data = b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 4) + b"\x00\x00" + b"\xff\xd9"
    assert rejection(data) == (RejectionCode.UNREADABLE_IMAGE, "The JPEG file has no frame header.")


# --- what the first bytes say --------------------------------------------------------------------------


def ftyp(major: bytes, *compatible: bytes, box: int = 0) -> bytes:
    brands = b"".join(compatible)
    return struct.pack(">I", box or 16 + len(brands)) + b"ftyp" + major + b"\x00\x00\x00\x00" + brands


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0", ImageFormat.JPEG),
        (b"\xff\xd8\x00\xe0", ImageFormat.NOT_AN_IMAGE),
        (b"\x89PNG\r\n\x1a\n", ImageFormat.PNG),
        (b"\x89PNG\r\n\x1a\x00", ImageFormat.NOT_AN_IMAGE),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", ImageFormat.WEBP),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", ImageFormat.NOT_AN_IMAGE),
        (b"RIFF\x00\x00\x00\x00AVI LIST", ImageFormat.NOT_AN_IMAGE),
        (b"XXXX\x00\x00\x00\x00WEBPVP8 ", ImageFormat.NOT_AN_IMAGE),
        (b"GIF87a\x01\x00", ImageFormat.GIF),
        (b"GIF89a\x01\x00", ImageFormat.GIF),
        (b"GIF88a\x01\x00", ImageFormat.NOT_AN_IMAGE),
        (ftyp(b"heic", b"mif1"), ImageFormat.HEIC),
        (ftyp(b"mif1", b"heic"), ImageFormat.HEIC),
        (ftyp(b"avif", b"mif1"), ImageFormat.AVIF),
        (ftyp(b"mif1", b"miaf", b"avif"), ImageFormat.AVIF),
        (ftyp(b"mif1", b"heic", b"avif"), ImageFormat.AVIF),
        (ftyp(b"isom", b"iso2", b"avc1", b"mp41"), ImageFormat.NOT_AN_IMAGE),
        (ftyp(b"qt  "), ImageFormat.NOT_AN_IMAGE),
        (b"II*\x00\x08\x00\x00\x00", ImageFormat.TIFF),
        (b"MM\x00*\x00\x00\x00\x08", ImageFormat.TIFF),
        (b"MM*\x00\x00\x00\x00\x08", ImageFormat.NOT_AN_IMAGE),
        (b"BM" + b"\x00" * 12, ImageFormat.BMP),
        (b"BM" + b"\x00" * 11, ImageFormat.NOT_AN_IMAGE),
        (b"BMW is a car", ImageFormat.NOT_AN_IMAGE),
        (b"\x00\x00\x01\x00\x01\x00", ImageFormat.ICO),
        (b"\x00\x00\x02\x00\x01\x00", ImageFormat.NOT_AN_IMAGE),
        (b"%PDF-1.7\n", ImageFormat.PDF),
        (b"%PDF 1.7\n", ImageFormat.NOT_AN_IMAGE),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", ImageFormat.SVG),
        (b"<!DOCTYPE svg PUBLIC '-//W3C//DTD SVG 1.1//EN'>", ImageFormat.SVG),
        (b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- a -->\n<!-- b --><SVG/>', ImageFormat.SVG),
        (b"<!doctype html><p>", ImageFormat.HTML),
        (b"  \n\t<HTML lang=en>", ImageFormat.HTML),
        (b"<head><script>", ImageFormat.HTML),
        (b"<body onload=x()>", ImageFormat.HTML),
        (b"\xef\xbb\xbf<!-- x --><html>", ImageFormat.HTML),
        (b"<div>not a document</div>", ImageFormat.NOT_AN_IMAGE),
        (b"", ImageFormat.NOT_AN_IMAGE),
    ],
)
def test_the_first_bytes_name_the_format(head: bytes, expected: ImageFormat) -> None:
    assert sniff_format(head) is expected


@pytest.mark.parametrize("offset", [16, 20, 40, 60])
def test_an_avif_brand_anywhere_in_the_first_64_bytes_makes_an_avif(offset: int) -> None:
    head = ftyp(b"mif1", *[b"miaf"] * ((offset - 16) // 4), b"avif")
    assert head[offset : offset + 4] == b"avif"
    assert sniff_format(head + b"\x00" * 64) is ImageFormat.AVIF


def test_brands_are_read_at_4_byte_steps_and_not_past_64_bytes() -> None:
    misaligned = ftyp(b"isom", b"miaf") + b"\x00\x00avif" + b"\x00" * 64
    assert sniff_format(misaligned) is ImageFormat.NOT_AN_IMAGE
    beyond = ftyp(b"isom", *[b"miaf"] * 12, b"avif")
    assert beyond.index(b"avif") == 64
    assert sniff_format(beyond) is ImageFormat.NOT_AN_IMAGE
    # bytes 12-15 are the minor version, not a brand
    assert sniff_format(struct.pack(">I", 16) + b"ftypisomavif" + b"\x00" * 64) is ImageFormat.NOT_AN_IMAGE


@pytest.mark.parametrize(
    ("head", "described"),
    [
        (b"GIF89a" + b"\x00" * 20, "a GIF file"),
        (ftyp(b"heic", b"mif1"), "a HEIC file"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "a WebP file"),
        (b"plain text", "not an image"),
    ],
)
def test_an_unsupported_file_is_told_what_it_is(head: bytes, described: str) -> None:
    assert rejection(head) == (
        RejectionCode.UNSUPPORTED_FORMAT,
        f"The file is {described}; only JPEG and PNG images can be labeled.",
    )
