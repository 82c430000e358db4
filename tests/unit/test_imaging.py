from __future__ import annotations

import pytest

from labeler.errors import ImageRejected, RejectionCode
from labeler.imaging import HEADER_BYTES, BufferSource, inspect_image, sniff_format
from labeler.models import ImageFormat
from tests.corpus import Rejected, jpeg_with_large_metadata, rejected_images, valid_images

VALID = valid_images()
REJECTED = rejected_images()


class CountingSource(BufferSource):
    """Records every read, to prove how little of the file inspection touches."""

    reads: list[tuple[int, int]]

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        object.__setattr__(self, "reads", [])

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return super().read(offset, length)


def inspect(data: bytes) -> tuple[ImageFormat, int, int]:
    source = CountingSource(data)
    header = inspect_image(source, data[:HEADER_BYTES])
    return header.format, header.width, header.height


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_images_are_accepted_with_their_real_size(name: str) -> None:
    import io

    from PIL import Image

    data = VALID[name]
    expected = Image.open(io.BytesIO(data)).size
    image_format, width, height = inspect(data)
    assert image_format in {ImageFormat.JPEG, ImageFormat.PNG}
    assert (width, height) == expected


@pytest.mark.parametrize("case", REJECTED, ids=lambda case: case.name)
def test_each_rejection_class_has_its_code_and_a_specific_reason(case: Rejected) -> None:
    with pytest.raises(ImageRejected) as raised:
        inspect(case.data)
    assert raised.value.code is case.code
    assert case.mentions in raised.value.reason
    code, reason = ImageRejected.parse_message(str(raised.value))
    assert (code, reason) == (case.code.value, raised.value.reason)


def test_format_comes_from_magic_bytes_not_from_a_name() -> None:
    assert sniff_format(VALID["png-rgb"]) is ImageFormat.PNG
    assert sniff_format(b"%PDF-1.7 ...") is ImageFormat.PDF
    assert sniff_format(b"\xef\xbb\xbf  <svg xmlns='x'/>") is ImageFormat.SVG
    assert sniff_format(b"<!-- c --><svg/>") is ImageFormat.SVG


def test_polyglot_png_header_followed_by_html_is_judged_by_its_header() -> None:
    polyglot = VALID["png-rgb"][:33] + b"<html><script>alert(1)</script></html>"
    assert inspect(polyglot)[0] is ImageFormat.PNG


def test_jpeg_with_metadata_past_64_kib_is_measured_with_few_small_reads() -> None:
    data = jpeg_with_large_metadata(app_segments=2)
    source = CountingSource(data)
    header = inspect_image(source, data[:HEADER_BYTES])
    assert (header.width, header.height) == (320, 240)
    assert 1 <= len(source.reads) <= 3
    assert sum(length for _, length in source.reads) <= 2048


def test_jpeg_without_frame_header_is_unreadable() -> None:
    with pytest.raises(ImageRejected) as raised:
        inspect(b"\xff\xd8\xff\xd9" + b"\x00" * 200)
    assert raised.value.code is RejectionCode.UNREADABLE_IMAGE
