"""``make bench``: the local pipeline end to end, and the bare model on the same images, in one run.

End to end: each image is put through the S3 API of a ``labeler local`` process (EventBridge
delivery on, the offline model labeling) from this process, as a browser or the CLI would, and its
latency runs from the start of PutObject until its final record is written, with ``--concurrency``
uploads in flight. Bare: the same images through
decode + preprocess + inference in a loop, on one thread, no AWS (the configuration that is fastest
on this 2-core machine), before and after the pipeline run. Results go to ``results/bench.json``
and ``results/bench.png``, with the CPU time each process spent per image (the stack, each Lambda
sandbox, and this process's own uploading and observing, which share the machine's CPUs).
Backfill: the same images stored with no event delivered, then labeled by one backfill run
(``missing``, ``--concurrency`` in flight) on a fresh ``labeler local``; a third bare run follows it.

``--storage-rss N [--object-mb 5]`` measures storage instead: N distinct objects of that size put
into a fresh ``labeler local`` (``--concurrency`` in flight, outside ``uploads/``: no pipeline run),
then the stack's RSS and its data dir's size, in ``storage`` of ``results/storage-rss.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from labeler.aws.results import ResultsRepository
from labeler.models import ImageStatus
from labeler_tools.local.process import LocalProcess
from labeler_tools.samples import photo_like

#: The bench's uploads are an operator's: no daily quota applies to them (``--quota-exempt``).
BENCH_OWNER = "bench"
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
    backend.warm_up()
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
    """Drive a ``labeler local`` process, started as a user starts it, over its HTTP endpoint."""
    arguments = ["--ephemeral", "--quota-exempt", BENCH_OWNER]
    with tempfile.TemporaryDirectory() as data_dir, LocalProcess(Path(data_dir), arguments) as stack:
        return _drive(stack, images, concurrency)


class _Periodic:
    """Calls ``tick`` every ``interval_s`` on a background thread while its ``with`` block runs."""

    def __init__(self, interval_s: float, name: str) -> None:
        self._interval_s = interval_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval_s):
            self.tick()

    def tick(self) -> None:
        raise NotImplementedError


class CompletionWatcher(_Periodic):
    """Tells waiting uploaders when their image's final record is stored.

    One thread polls for every image in flight with one BatchGetItem per tick, so what observing
    costs the stack stays the same whatever the concurrency (a GetItem loop per image measured a
    quarter of the pipeline's CPU at concurrency 2).
    """

    def __init__(self, results: ResultsRepository, interval_s: float = 0.05) -> None:
        super().__init__(interval_s, "bench-watcher")
        self._results = results
        self._waiting: dict[tuple[str, str], tuple[threading.Event, list[tuple[ImageStatus, str]]]] = {}
        self._lock = threading.Lock()

    def wait(self, owner: str, key: str, timeout_s: float) -> tuple[ImageStatus, str]:
        """The final status of ``key`` and the Timestamp its record was written with."""
        done, slot = threading.Event(), list[tuple[ImageStatus, str]]()
        with self._lock:
            self._waiting[(owner, key)] = (done, slot)
        if not done.wait(timeout_s):
            with self._lock:
                self._waiting.pop((owner, key), None)
            raise TimeoutError(f"no final record for {key} within {timeout_s:.0f} s")
        return slot[0]

    def tick(self) -> None:
        with self._lock:
            keys = list(self._waiting)
        if not keys:
            return
        for found_key, outcome in self._results.statuses(keys).items():
            if outcome[0] is ImageStatus.PROCESSING:
                continue
            with self._lock:
                waiter = self._waiting.pop(found_key, None)
            if waiter is not None:
                done, slot = waiter
                slot.append(outcome)
                done.set()


class MemorySampler(_Periodic):
    """The RSS of the stack and its sandboxes every ``interval_s`` as [seconds, images done, MB]."""

    def __init__(self, stack: LocalProcess, done: dict[str, int], interval_s: float = 5.0) -> None:
        super().__init__(interval_s, "bench-memory")
        self.samples: list[list[float]] = []
        self._stack, self._done = stack, done
        self._started = time.perf_counter()

    def __enter__(self) -> Self:
        self.tick()
        return super().__enter__()

    def __exit__(self, *_: object) -> None:
        super().__exit__()
        self.tick()

    def tick(self) -> None:
        seconds = round(time.perf_counter() - self._started, 1)
        self.samples.append([seconds, sum(self._done.values()), self._stack.memory_mb()["now"]])


def _drive(stack: LocalProcess, images: list[bytes], concurrency: int) -> tuple[dict[str, Any], list[float]]:
    s3 = stack.client("s3")
    results = ResultsRepository(stack.client("dynamodb"), stack.discovery.results_table)
    bucket = stack.discovery.upload_bucket
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def one(watcher: CompletionWatcher, index: int, prefix: str) -> float:
        """Latency from the start of PutObject to the moment the final record was written.

        The record's own Timestamp (ms) marks the write, so how often the watcher polls for it does
        not count.
        """
        key = f"uploads/{BENCH_OWNER}/{prefix}{index:05d}.jpg"
        started = time.time()
        s3.put_object(Bucket=bucket, Key=key, Body=images[index], ContentType="image/jpeg")
        status, written_at = watcher.wait("bench", key, timeout_s=120)
        with lock:
            statuses[status.value] = statuses.get(status.value, 0) + 1
        return (datetime.fromisoformat(written_at).timestamp() - started) * 1000

    with CompletionWatcher(results) as watcher:
        # Warm-up, as a steady flow of uploads finds Lambda: first imports, the ASL parsed, and each
        # function's sandboxes started as this concurrency needs them (cold starts are not the run's).
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(lambda index: one(watcher, index % len(images), "warmup-"), range(3 * concurrency)))
        statuses.clear()
        memory_before = stack.memory_mb()["now"]
        cpu_before, client_cpu_before = stack.cpu_seconds(), time.process_time()
        started = time.perf_counter()
        with (
            ThreadPoolExecutor(max_workers=concurrency) as pool,
            MemorySampler(stack, statuses) as memory_samples,
        ):
            latencies = list(pool.map(lambda index: one(watcher, index, ""), range(len(images))))
        elapsed = time.perf_counter() - started
        cpu = _cpu_ms_per_image(
            cpu_before, stack.cpu_seconds(), time.process_time() - client_cpu_before, len(images)
        )
    memory = stack.memory_mb()
    result = {
        "throughput_images_per_s": round(len(images) / elapsed, 2),
        "elapsed_s": round(elapsed, 2),
        "latency_ms": _latency_summary(latencies),
        "statuses": statuses,
        "cpu_ms_per_image": cpu,
        # Of every CPU of the machine over the run: what was left idle.
        "cpu_busy_fraction": round(cpu["total"] * len(images) / 1000 / (elapsed * (os.cpu_count() or 1)), 2),
        # moto keeps uploaded objects in memory, as S3 keeps them: the RSS growth to expect.
        "uploaded_mb": round(sum(len(image) for image in images) / 1024 / 1024, 1),
        "stack_rss_mb": {
            "after_warm_up": memory_before,
            "after_run": memory["now"],
            "peak": memory["peak"],
            # pages a sandbox shares with its template counted once
            "proportional_after_run": memory["pss"],
            "samples": memory_samples.samples,
        },
    }
    return result, latencies


def _cpu_ms_per_image(
    before: dict[str, float], after: dict[str, float], client_s: float, images: int
) -> dict[str, float]:
    """CPU per image of the stack, each function's sandboxes and this process (the uploading, observing
    client), which all share the machine's CPUs; a sandbox started during the run counts from its
    start (its cold start included), one stopped during it is left out."""
    per_image = {
        role.removeprefix("functions.").removesuffix(".handler"): (seconds - before.get(role, 0.0))
        * 1000
        / images
        for role, seconds in after.items()
    }
    per_image["bench_client"] = client_s * 1000 / images
    return {role: round(ms, 1) for role, ms in {**per_image, "total": sum(per_image.values())}.items()}


def backfill(images: list[bytes], concurrency: int) -> dict[str, Any]:
    """The images stored first (no upload event delivered), then labeled by one backfill run
    (``missing``, ``concurrency`` in flight) on a fresh ``labeler local``: images/s from the run's
    start to its end."""
    from labeler.backfill import BackfillRun
    from labeler_tools.ops.backfill import Backfill
    from labeler_tools.ops.target import local_target

    arguments = ["--ephemeral", "--quota-exempt", BENCH_OWNER]
    with tempfile.TemporaryDirectory() as data_dir, LocalProcess(Path(data_dir), arguments) as stack:
        s3, bucket = stack.client("s3"), stack.discovery.upload_bucket
        stack.client("events").disable_rule(Name=stack.discovery.upload_rule)
        prefix = f"uploads/{BENCH_OWNER}/library/"

        def store(index: int) -> None:
            s3.put_object(Bucket=bucket, Key=f"{prefix}{index:05d}.jpg", Body=images[index])

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(store, range(len(images))))
        work = Backfill(local_target(Path(data_dir)))
        run = BackfillRun(name="bench", bucket=bucket, prefix=prefix, max_concurrency=concurrency)
        started = time.perf_counter()
        progress = work.start(run)
        done = work.wait(progress.execution_arn, timeout_s=3600, poll_s=0.05)
        elapsed = time.perf_counter() - started
    return {
        "objects": len(images),
        "max_concurrency": concurrency,
        "status": done.status.value,
        "succeeded": done.succeeded,
        "failed": done.failed,
        "elapsed_s": round(elapsed, 2),
        "throughput_images_per_s": round(len(images) / elapsed, 2),
    }


def storage_rss(objects: int, object_mb: float, concurrency: int) -> dict[str, Any]:
    """The RSS of a fresh stack holding ``objects`` distinct bodies of ``object_mb`` MB (put outside
    ``uploads/``: no execution starts), and the size of its data dir."""
    from labeler_tools.local.process import _memory_mb

    size = int(object_mb * 1024 * 1024)
    base = os.urandom(size)
    with tempfile.TemporaryDirectory() as data_dir, LocalProcess(Path(data_dir)) as stack:
        s3, bucket = stack.client("s3"), stack.discovery.upload_bucket
        before = {"stack": round(_memory_mb(stack.process.pid).get("now", 0.0), 1), **stack.memory_mb()}
        started = time.perf_counter()

        def put(index: int) -> None:
            body = index.to_bytes(8, "big") + base[8:]  # distinct content: nothing deduplicated
            s3.put_object(Bucket=bucket, Key=f"storage-bench/{index:06d}.bin", Body=body)

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(put, range(objects)))
        elapsed = time.perf_counter() - started
        s3.get_object(Bucket=bucket, Key="storage-bench/000000.bin", Range="bytes=0-65535")["Body"].read()
        stack_only = _memory_mb(stack.process.pid)
        with_sandboxes = stack.memory_mb()
        data_dir_bytes = sum(path.stat().st_size for path in Path(data_dir).rglob("*") if path.is_file())
    return {
        "objects": objects,
        "object_mb": object_mb,
        "concurrency": concurrency,
        "stored_mb": round(objects * size / 1024 / 1024, 1),
        "put_s": round(elapsed, 1),
        "stack_rss_mb": {
            "before": before["stack"],
            "after": round(stack_only.get("now", 0.0), 1),
            "peak": round(stack_only.get("peak", 0.0), 1),
        },
        "stack_and_sandboxes_rss_mb": {"before": before["now"], "after": with_sandboxes["now"]},
        "data_dir_mb": round(data_dir_bytes / 1024 / 1024, 1),
    }


def chart(result: dict[str, Any], latencies: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right, memory) = plt.subplots(1, 3, figsize=(16, 4))
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
    samples = result["end_to_end"]["stack_rss_mb"]["samples"]
    memory.plot([done for _, done, _ in samples], [mb for _, _, mb in samples], color="#3b7dd8", marker=".")
    memory.set(title="labeler local RSS (stack + sandboxes)", xlabel="images done", ylabel="MB")
    figure.suptitle(f"{result['images']} images, {result['machine']['cpus']} CPUs, {result['measured_at']}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=6,
        help="uploads in flight at once (closed loop; the README's Speed section says what each "
        "setting measured); 1 measures latency alone, not throughput",
    )
    parser.add_argument("--output", type=Path, help="default: results/bench.json (results/storage-rss.json)")
    parser.add_argument(
        "--storage-rss",
        type=int,
        metavar="N",
        help="measure storage instead: the stack's RSS and data dir size with N objects stored",
    )
    parser.add_argument("--object-mb", type=float, default=5.0, help="object size for --storage-rss")
    arguments = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    if arguments.storage_rss is not None:
        storage = {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "storage": storage_rss(arguments.storage_rss, arguments.object_mb, arguments.concurrency),
        }
        output = arguments.output or Path("results/storage-rss.json")
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(storage, indent=2) + "\n")
        print(json.dumps(storage, indent=2))
        return

    images = sample_images(arguments.images)
    # The bare model before and after the pipeline: this machine's speed drifts by ~10% between
    # runs, and the faster of the two is the limit the pipeline is held to.
    bare_runs = [bare_model(images)]
    pipeline, latencies = end_to_end(images, arguments.concurrency)
    bare_runs.append(bare_model(images))
    backfilled = backfill(images, arguments.concurrency)
    bare_runs.append(bare_model(images))
    bare = max(bare_runs, key=lambda run: run["throughput_images_per_s"])
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "images": len(images),
        "concurrency": arguments.concurrency,
        "end_to_end": pipeline,
        "bare_model": {**bare, "runs_images_per_s": [run["throughput_images_per_s"] for run in bare_runs]},
        "ratio_pipeline_to_bare": round(
            pipeline["throughput_images_per_s"] / bare["throughput_images_per_s"], 3
        ),
        "backfill": backfilled,
        "ratio_backfill_to_bare": round(
            backfilled["throughput_images_per_s"] / bare["throughput_images_per_s"], 3
        ),
    }
    output = arguments.output or Path("results/bench.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    chart(result, latencies, output.with_suffix(".png"))
    print(json.dumps(result, indent=2))
    print(f"pipeline/bare throughput ratio: {result['ratio_pipeline_to_bare']:.0%}")
    print(f"backfill/bare throughput ratio: {result['ratio_backfill_to_bare']:.0%}")


if __name__ == "__main__":
    main()
