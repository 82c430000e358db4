"""``make bench``: the local pipeline end to end, and the bare model on the same images, in one run.

End to end: each image is put through the S3 API of a local stack (EventBridge delivery on, the
offline model labeling), and its latency runs from the start of PutObject until its record is
readable in DynamoDB. Bare: the same images through decode + preprocess + inference in a loop, on
one thread, no AWS. Results go to ``results/bench.json`` and ``results/bench.png``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labeler.models import ImageStatus
from labeler.samples import photo_like

#: (width, height) of the generated photos; cycled over the N images.
SIZES = [(640, 480), (1024, 768), (1600, 1200), (800, 1200)]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def rss_mb() -> float:
    """This process's resident memory now (Linux /proc; 0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def sample_images(count: int) -> list[bytes]:
    """Photo-like JPEGs of several sizes, plus the public-domain photos of scikit-image when present."""
    images = [photo_like(*SIZES[i % len(SIZES)], seed=i) for i in range(count)]
    try:
        from PIL import Image
        from skimage import data

        photos = [data.chelsea(), data.coffee(), data.astronaut(), data.rocket()]  # type: ignore[no-untyped-call]
    except ImportError:
        return images
    for index in range(0, count, 5):  # every fifth image is a real photo
        buffer = io.BytesIO()
        Image.fromarray(photos[(index // 5) % len(photos)]).save(buffer, format="JPEG", quality=90)
        images[index] = buffer.getvalue()
    return images


def bare_model(images: list[bytes]) -> dict[str, Any]:
    from labeler.labels.onnx_backend import OnnxBackend

    backend = OnnxBackend()
    backend.load()
    backend.labels_for_bytes(images[0])  # warm-up
    latencies = []
    started = time.perf_counter()
    for image in images:
        one = time.perf_counter()
        backend.labels_for_bytes(image)
        latencies.append((time.perf_counter() - one) * 1000)
    elapsed = time.perf_counter() - started
    return {
        "throughput_images_per_s": round(len(images) / elapsed, 2),
        "latency_ms": _latency_summary(latencies),
    }


def _latency_summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(latencies, 0.50), 1),
        "p95": round(percentile(latencies, 0.95), 1),
        "p99": round(percentile(latencies, 0.99), 1),
        "mean": round(statistics.fmean(latencies), 1),
        "max": round(max(latencies), 1),
    }


def end_to_end(images: list[bytes], concurrency: int) -> tuple[dict[str, Any], list[float]]:
    from labeler.local.server import free_port
    from labeler.local.stack import LocalOptions, LocalStack

    with tempfile.TemporaryDirectory() as data_dir:
        options = LocalOptions(
            port=free_port(), web_port=free_port(), data_dir=Path(data_dir), persist=False, prefix="bench"
        )
        stack = LocalStack(options)
        stack.start()
        try:
            return _drive(stack, images, concurrency)
        finally:
            stack.stop()


def _drive(stack: Any, images: list[bytes], concurrency: int) -> tuple[dict[str, Any], list[float]]:
    session = stack.session()
    s3, results = session.client("s3"), stack.results()
    bucket = stack.stack.upload_bucket
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def one(index: int, prefix: str) -> float:
        """Latency from the start of PutObject to the moment the final record was written.

        The record's own Timestamp (ms) marks the write, so how often this loop polls for it (and
        the load the polling adds) does not count.
        """
        key = f"uploads/bench/{prefix}{index:05d}.jpg"
        started = time.time()
        s3.put_object(Bucket=bucket, Key=key, Body=images[index], ContentType="image/jpeg")
        while (record := results.get("bench", key)) is None or record.status is ImageStatus.PROCESSING:
            if time.time() > started + 120:
                raise TimeoutError(f"no final record for {key}")
            time.sleep(0.02)
        with lock:
            statuses[record.status.value] = statuses.get(record.status.value, 0) + 1
        return (datetime.fromisoformat(record.timestamp).timestamp() - started) * 1000

    for index in range(min(3, len(images))):  # warm-up: first imports, ASL parse, model session
        one(index, "warmup-")
    statuses.clear()
    rss_before = rss_mb()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = list(pool.map(lambda index: one(index, ""), range(len(images))))
    elapsed = time.perf_counter() - started
    result = {
        "throughput_images_per_s": round(len(images) / elapsed, 2),
        "elapsed_s": round(elapsed, 2),
        "latency_ms": _latency_summary(latencies),
        "statuses": statuses,
        "rss_mb": {"after_warm_up": rss_before, "after_run": rss_mb(), "peak": peak_rss_mb()},
    }
    return result, latencies


def chart(result: dict[str, Any], latencies: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.hist(latencies, bins=40, color="#3b7dd8")
    for name, colour in (("p50", "green"), ("p95", "orange"), ("p99", "red")):
        left.axvline(result["end_to_end"]["latency_ms"][name], color=colour, linestyle="--", label=name)
    left.set(title="End-to-end latency (PutObject -> record)", xlabel="ms", ylabel="images")
    left.legend()
    bars = {
        "pipeline": result["end_to_end"]["throughput_images_per_s"],
        "bare model": result["bare_model"]["throughput_images_per_s"],
    }
    right.bar(list(bars), list(bars.values()), color=["#3b7dd8", "#999999"])
    right.set(title=f"Throughput (concurrency {result['concurrency']})", ylabel="images/s")
    figure.suptitle(f"{result['images']} images, {result['machine']['cpus']} CPUs, {result['measured_at']}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path("results/bench.json"))
    arguments = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

    images = sample_images(arguments.images)
    pipeline, latencies = end_to_end(images, arguments.concurrency)
    bare = bare_model(images)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "images": len(images),
        "concurrency": arguments.concurrency,
        "end_to_end": pipeline,
        "bare_model": bare,
        "ratio_pipeline_to_bare": round(
            pipeline["throughput_images_per_s"] / bare["throughput_images_per_s"], 3
        ),
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2) + "\n")
    chart(result, latencies, arguments.output.with_suffix(".png"))
    print(json.dumps(result, indent=2))
    print(f"pipeline/bare throughput ratio: {result['ratio_pipeline_to_bare']:.0%}")


if __name__ == "__main__":
    main()
