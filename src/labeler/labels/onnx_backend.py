"""Offline label backend: EfficientNet-Lite0 (ImageNet-1k) on onnxruntime, no torch at run time.

Same output schema as Rekognition (``labeler.labels.rekognition``): title-cased names, confidence in
percent, parents and categories like Rekognition's (Espresso: parents Coffee, Beverage, Food; category
Food and Beverage), empty aliases and instances (a classifier has no boxes).

Parents and categories are data: ``label_hierarchy.json`` in the ``labeler_model`` package, built once
from WordNet 3.0's hypernyms by ``scripts/build_label_hierarchy.py`` and read here with the class names
(no WordNet at run time). A class the file has no entry for gets empty parents and categories; a file
whose entries name other classes than the model's is refused.

The model ships in the ``labeler_model`` package (see its MODEL_CARD.md; ``scripts/export_model.py``
re-creates it). It is loaded once per process, on first use, behind a lock, and its SHA-256 is checked
against ``efficientnet_lite0.onnx.sha256`` before onnxruntime sees a byte of it.

Preprocessing (what the model was trained and evaluated with; change nothing without re-measuring):
decode with Pillow (JPEGs decoded at a reduced DCT scale when they are much larger than needed), apply
the EXIF orientation, convert to 8-bit RGB (CMYK, palette, grayscale, 16-bit grayscale scaled down,
transparency composited onto white), resize the shorter side to 256 and centre-crop 224 x 224 (done as
one bicubic resize of the centre box: the standard ImageNet evaluation crop, 0.875), scale TF-style
``(x - 127) / 128``, NCHW float32.

Scores: softmax over the 1000 logits. ImageNet-1k has duplicate names (missile x2, sunglasses x2);
classes whose display names are equal are merged into one label whose confidence is the SUM of their
probabilities (the probability that the image shows either; it can never exceed 100), and whose
parents and categories are the union of theirs.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.resources
import io
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]  # ships no py.typed
from botocore.exceptions import (
    ClientError,
    ConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from numpy.typing import NDArray
from PIL import Image, ImageOps

from labeler.aws import clients
from labeler.aws.codes import error_code
from labeler.errors import ImageRejected, LabelBackendMisconfigured, LabelServiceThrottled, RejectionCode
from labeler.imaging import MAX_IMAGE_BYTES
from labeler.models import Label, LabelResult, ObjectRef
from labeler.settings import DEFAULT_MIN_CONFIDENCE as BACKEND_MIN_CONFIDENCE

MODEL_DIR = Path(str(importlib.resources.files("labeler_model")))
MODEL_PATH = MODEL_DIR / "efficientnet_lite0.onnx"
CLASSES_PATH = MODEL_DIR / "imagenet_classes.json"
HIERARCHY_PATH = MODEL_DIR / "label_hierarchy.json"
MODEL_NAME = "efficientnet-lite0-imagenet1k"

#: Network input side, and the side the shorter image side is resized to before the centre crop.
IMAGE_SIZE = 224
RESIZE_SIZE = 256
#: JPEGs are decoded at the smallest DCT scale (1/2, 1/4, 1/8) that keeps both sides >= this.
JPEG_DRAFT_SIZE = 2 * RESIZE_SIZE

#: Default local threshold, in percent. An ImageNet classifier spreads its probability over 1000
#: fine-grained classes (118 dog breeds alone), so the top-1 probability of a clear photo is often only
#: 30-60% and the second-best sensible label 5-20%; Rekognition's usual 55-70% would return nothing
#: for many photos. 10% keeps the confident top-1 and its close alternatives (tabby/tiger cat,
#: espresso/cup) and drops the long tail of 0.1-5% guesses.
DEFAULT_MIN_CONFIDENCE = BACKEND_MIN_CONFIDENCE["onnx"]

_GONE = {"404", "NoSuchKey", "NoSuchVersion", "NotFound", "412", "PreconditionFailed"}
_TRANSIENT = {"SlowDown", "ServiceUnavailable", "InternalError", "500", "503", "RequestTimeout", "Throttling"}
_MISCONFIGURED = {"AccessDenied", "403", "AllAccessDisabled", "InvalidObjectState"}
#: Pillow's ways of saying "these bytes are not an image I can decode".
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)
_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "de", "des", "for", "in", "of", "on", "or", "the", "to"}
)
_WORD_START = re.compile(r"(^|[(/])([a-z])")


def title_case(name: str) -> str:
    """``"kite (bird of prey)"`` -> ``"Kite (Bird of Prey)"``; words with a capital (``iPod``) are kept."""
    words = []
    for position, word in enumerate(name.split(" ")):
        if (position and word in _SMALL_WORDS) or any(char.isupper() for char in word):
            words.append(word)
        else:
            words.append(_WORD_START.sub(lambda match: match[1] + match[2].upper(), word, count=1))
    return " ".join(words)


# --------------------------------------------------------------------------------------------------
# Decoding and preprocessing (pure functions of the bytes)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any decoded Pillow image as 8-bit RGB."""
    if image.mode in {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}:
        # 16-bit grayscale (PNG) and friends: convert("RGB") would clip to 255 (a white picture).
        pixels = np.asarray(image).astype(np.float64)
        if pixels.size and pixels.max() > 255:
            pixels = pixels / 257.0
        image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="L")
    has_alpha = image.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def decode(data: bytes) -> Image.Image:
    """Decode ``data`` to an upright 8-bit RGB image, or raise ImageRejected(UNREADABLE_IMAGE)."""
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
        if image.format in {"JPEG", "MPO"}:
            image.draft("RGB", (JPEG_DRAFT_SIZE, JPEG_DRAFT_SIZE))
        image.load()
    except _DECODE_ERRORS as error:
        raise ImageRejected(
            RejectionCode.UNREADABLE_IMAGE,
            f"The image could not be decoded ({type(error).__name__}: {error}).",
        ) from error
    # The orientation is best effort: a broken EXIF block does not make a broken image.
    with contextlib.suppress(Exception):
        image = ImageOps.exif_transpose(image)
    try:
        return _to_rgb(image)
    except _DECODE_ERRORS as error:
        raise ImageRejected(
            RejectionCode.UNREADABLE_IMAGE,
            f"The image's colour mode {image.mode!r} could not be converted to RGB ({error}).",
        ) from error


def to_tensor(image: Image.Image) -> NDArray[np.float32]:
    """Resize the shorter side to 256, centre-crop 224, scale ``(x - 127) / 128``: [1, 3, 224, 224]."""
    width, height = image.size
    side = min(width, height) * IMAGE_SIZE / RESIZE_SIZE
    box = ((width - side) / 2, (height - side) / 2, (width + side) / 2, (height + side) / 2)
    crop = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC, box=box)
    pixels = np.asarray(crop, dtype=np.float32)
    scaled = (pixels - 127.0) / 128.0
    return np.ascontiguousarray(scaled.transpose(2, 0, 1)[np.newaxis])


def preprocess(data: bytes) -> NDArray[np.float32]:
    """Image bytes -> the model's input batch of one."""
    return to_tensor(decode(data))


# --------------------------------------------------------------------------------------------------
# The model: loaded once per process per file


@dataclass(frozen=True)
class LoadedModel:
    session: ort.InferenceSession
    input_name: str
    output_name: str
    sha256: str
    #: Unique display names (Title Cased, duplicates merged).
    names: tuple[str, ...]
    #: For each of the model's classes, the index of its display name in ``names``.
    groups: NDArray[np.intp]
    #: For each display name (as ``names``): its parents and its categories, from the label hierarchy.
    parents: tuple[tuple[str, ...], ...]
    categories: tuple[tuple[str, ...], ...]
    #: The label hierarchy file's SHA-256: its parents and categories are part of every label.
    hierarchy_sha256: str

    @property
    def version(self) -> str:
        """The weights' digest and the hierarchy's: a record labeled before either changed is another
        model's to ``labeler backfill --mode stale --label-model-version``."""
        return f"{MODEL_NAME}@{self.sha256[:12]}+labels@{self.hierarchy_sha256[:8]}"


_MODELS: dict[tuple[Path, Path, Path], LoadedModel] = {}


def _misconfigured(message: str) -> LabelBackendMisconfigured:
    return LabelBackendMisconfigured(f"ONNX label model: {message}")


def _expected_sha256(model_path: Path) -> str:
    checksum_path = model_path.with_name(model_path.name + ".sha256")
    try:
        expected = checksum_path.read_text(encoding="ascii").split()[0].lower()
    except (OSError, IndexError, UnicodeDecodeError) as error:
        raise _misconfigured(f"cannot read the checksum file {checksum_path} ({error}).") from error
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise _misconfigured(f"{checksum_path} does not hold a SHA-256.")
    return expected


def _display_names(classes_path: Path, classes: int) -> tuple[tuple[str, ...], NDArray[np.intp]]:
    try:
        document: dict[str, Any] = json.loads(classes_path.read_text(encoding="utf-8"))
        raw: list[str] = list(document["names"])
        overrides: dict[str, str] = dict(document.get("display_overrides", {}))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _misconfigured(f"cannot read the class names {classes_path} ({error}).") from error
    if len(raw) != classes:
        raise _misconfigured(f"{classes_path} lists {len(raw)} names, the model has {classes} classes.")
    names: dict[str, int] = {}
    groups = [
        names.setdefault(title_case(overrides.get(str(index), name).strip()), len(names))
        for index, name in enumerate(raw)
    ]
    return tuple(names), np.asarray(groups, dtype=np.intp)


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"expected a list of strings, not {value!r}")
    return value


def _hierarchy(
    hierarchy_path: Path, names: tuple[str, ...], groups: NDArray[np.intp]
) -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...], str]:
    """Parents and categories per display name (the union over the classes merged into it, in order),
    and the file's SHA-256."""
    parents: list[dict[str, None]] = [{} for _ in names]
    categories: list[dict[str, None]] = [{} for _ in names]
    try:
        raw = hierarchy_path.read_bytes()
        document: dict[str, Any] = json.loads(raw.decode("utf-8"))
        for entry in document["classes"]:
            index, name = entry["index"], entry["name"]
            if not isinstance(index, int) or not 0 <= index < len(groups):
                raise ValueError(f"class index {index!r} is not one of the model's {len(groups)}")
            group = int(groups[index])
            if name != names[group]:
                raise ValueError(f"class {index} is {names[group]!r} here, {name!r} there")
            parents[group].update(dict.fromkeys(_strings(entry["parents"])))
            categories[group].update(dict.fromkeys(_strings(entry["categories"])))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _misconfigured(f"cannot read the label hierarchy {hierarchy_path} ({error}).") from error
    return (
        tuple(tuple(found) for found in parents),
        tuple(tuple(found) for found in categories),
        hashlib.sha256(raw).hexdigest(),
    )


def _load(model_path: Path, classes_path: Path, hierarchy_path: Path) -> LoadedModel:
    expected = _expected_sha256(model_path)
    try:
        blob = model_path.read_bytes()
    except OSError as error:
        raise _misconfigured(f"cannot read {model_path} ({error}).") from error
    actual = hashlib.sha256(blob).hexdigest()
    if actual != expected:
        raise _misconfigured(
            f"{model_path} has SHA-256 {actual} ({len(blob):,} bytes) but its .sha256 file says {expected}: "
            "the file is damaged, truncated or a Git LFS pointer. Restore it, or re-create it with "
            "scripts/export_model.py."
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph types
        raise _misconfigured(f"onnxruntime cannot load {model_path} ({error}).") from error
    (model_input,) = session.get_inputs()
    (model_output,) = session.get_outputs()
    classes = model_output.shape[-1]
    if not isinstance(classes, int):
        raise _misconfigured(f"{model_path} has no fixed number of classes ({model_output.shape}).")
    names, groups = _display_names(classes_path, classes)
    parents, categories, hierarchy_sha256 = _hierarchy(hierarchy_path, names, groups)
    return LoadedModel(
        session,
        model_input.name,
        model_output.name,
        actual,
        names,
        groups,
        parents,
        categories,
        hierarchy_sha256,
    )


@functools.lru_cache(maxsize=16)
def _resolved(model_path: Path, classes_path: Path, hierarchy_path: Path) -> tuple[Path, Path, Path]:
    """The paths resolved once: ``Path.resolve`` walks the file system, and every inference asks."""
    return model_path.resolve(), classes_path.resolve(), hierarchy_path.resolve()


def load_model(
    model_path: Path = MODEL_PATH, classes_path: Path = CLASSES_PATH, hierarchy_path: Path = HIERARCHY_PATH
) -> LoadedModel:
    """The model for these files, loaded and checked on the first call in this process, then shared."""
    key = _resolved(Path(model_path), Path(classes_path), Path(hierarchy_path))
    model = _MODELS.get(key)
    if model is None:
        model = _MODELS[key] = _load(*key)
    return model


def softmax(logits: NDArray[np.float32]) -> NDArray[np.float64]:
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    result: NDArray[np.float64] = exp / exp.sum(axis=-1, keepdims=True)
    return result


# --------------------------------------------------------------------------------------------------
# The backend


@dataclass(frozen=True)
class OnnxBackend:
    """Labels images with EfficientNet-Lite0 (ImageNet-1k) on onnxruntime, on one CPU thread per call.

    ``min_confidence`` defaults to 10%, not Rekognition's 70%: a 1000-class ImageNet classifier rarely
    puts 70% on one class even when it is right (see ``DEFAULT_MIN_CONFIDENCE``). Callers that pass
    Rekognition's threshold through will mostly get no labels.

    The model is loaded lazily on the first call (or by :meth:`warm_up`), once per process.
    """

    max_labels: int = 10
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    model_path: Path = MODEL_PATH
    classes_path: Path = CLASSES_PATH
    hierarchy_path: Path = HIERARCHY_PATH
    name: str = "onnx"

    def load(self) -> LoadedModel:
        """The model, loaded (and checksummed) on the first call in this process."""
        return load_model(self.model_path, self.classes_path, self.hierarchy_path)

    def warm_up(self) -> None:
        """Load and checksum the model now (the init phase), not on the first image."""
        self.load()

    @property
    def model_version(self) -> str:
        return self.load().version

    def logits(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """Raw logits [n, 1000] for a preprocessed batch [n, 3, 224, 224]."""
        model = self.load()
        (output,) = model.session.run([model.output_name], {model.input_name: batch})
        return np.asarray(output, dtype=np.float32)

    def scores_for_bytes(self, data: bytes) -> dict[str, float]:
        """Every display name with its merged confidence in percent (duplicates summed)."""
        model = self.load()
        merged = self._merged_percent(model, self.logits(preprocess(data))[0])
        return dict(zip(model.names, merged.tolist(), strict=True))

    def labels_for_bytes(self, data: bytes) -> list[Label]:
        """Decode + preprocess + inference, no S3: the labels for one image's bytes, best first."""
        model = self.load()
        merged = self._merged_percent(model, self.logits(preprocess(data))[0])
        labels = []
        for index in np.argsort(-merged, kind="stable")[: self.max_labels]:
            confidence = float(merged[index])
            if confidence < self.min_confidence:
                break
            labels.append(
                Label(
                    name=model.names[index],
                    confidence=min(confidence, 100.0),
                    parents=list(model.parents[index]),
                    categories=list(model.categories[index]),
                )
            )
        return labels

    def detect_labels(self, image: ObjectRef) -> LabelResult:
        started = time.perf_counter()
        model = self.load()
        labels = self.labels_for_bytes(self._read(image))
        return LabelResult(
            labels=labels,
            label_model_version=model.version,
            backend=self.name,
            label_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    @staticmethod
    def _merged_percent(model: LoadedModel, logits: NDArray[np.float32]) -> NDArray[np.float64]:
        probabilities = softmax(logits)
        merged = np.bincount(model.groups, weights=probabilities, minlength=len(model.names))
        return merged.astype(np.float64) * 100.0

    def _read(self, image: ObjectRef) -> bytes:
        """The object's bytes, pinned to its version (or, unversioned, to its ETag)."""
        args = {"Bucket": image.bucket, "Key": image.key}
        if image.version_id:
            args["VersionId"] = image.version_id
        elif image.etag:
            args["IfMatch"] = f'"{image.etag.strip(chr(34))}"'
        try:
            response = clients.s3().get_object(**args)  # type: ignore[arg-type]
            size = int(response.get("ContentLength", 0))
            if size > MAX_IMAGE_BYTES:
                response["Body"].close()
                raise ImageRejected(
                    RejectionCode.TOO_LARGE,
                    f"The object is {size:,} bytes; the limit is {MAX_IMAGE_BYTES:,}.",
                )
            return response["Body"].read()
        except ClientError as error:
            code = error_code(error)
            if code in _GONE:
                raise ImageRejected(
                    RejectionCode.OBJECT_GONE,
                    f"The object {image.key!r} was deleted or replaced by a newer upload before labeling.",
                ) from error
            if code in _TRANSIENT:
                raise LabelServiceThrottled(f"S3 answered {code} for {image.key!r}") from error
            if code in _MISCONFIGURED:
                raise LabelBackendMisconfigured(f"S3 answered {code} for {image.key!r}") from error
            raise
        except (ConnectionError, ReadTimeoutError, ResponseStreamingError, IncompleteReadError) as error:
            raise LabelServiceThrottled(f"S3 unreachable while reading {image.key!r}: {error}") from error
