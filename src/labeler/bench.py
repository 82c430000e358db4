"""``make bench``: end-to-end throughput and latency of the local pipeline, written to a JSON file.

Each image is uploaded through the S3 API, its execution started with the S3 event, and the clock
stops when the execution has ended and its record is readable. Retry waits are real (factor 1).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


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


def run(images: int, concurrency: int) -> dict[str, Any]:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from labeler.aws.results import ResultsRepository
    from labeler.local import runner
    from labeler.local.provision import StackNames, provision
    from labeler.local.server import LocalAws
    from labeler.samples import photo_like

    names = StackNames(prefix="bench")
    os.environ["LABELER_RESULTS_TABLE"] = names.results_table
    sizes = [(640, 480), (1024, 768), (1600, 1200)]
    bodies = [photo_like(*sizes[i % len(sizes)], seed=i) for i in range(images)]
    with LocalAws(names.handler_modules()) as aws:
        session = aws.session()
        stack = provision(session, names)
        s3, sfn = session.client("s3"), session.client("stepfunctions")
        results = ResultsRepository(session.client("dynamodb"), stack.results_table)

        def one(index: int) -> tuple[float, str]:
            key = f"uploads/bench/{index:05d}.jpg"
            started = time.perf_counter()
            event = runner.upload(s3, stack.upload_bucket, key, bodies[index])
            runner.wait_for_execution(sfn, runner.start_execution(sfn, stack.state_machine_arn, event), 300)
            record = results.get("bench", key)
            return (time.perf_counter() - started) * 1000, record.status.value if record else "MISSING"

        one(0)  # warm-up: first imports, first ASL parse
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            outcomes = list(pool.map(one, range(images)))
        elapsed = time.perf_counter() - started
    latencies = [latency for latency, _ in outcomes]
    statuses = [status for _, status in outcomes]
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "images": images,
        "concurrency": concurrency,
        "label_backend": os.environ.get("LABELER_LABEL_BACKEND", "rekognition"),
        "elapsed_s": round(elapsed, 3),
        "throughput_images_per_s": round(images / elapsed, 2),
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "mean": round(statistics.fmean(latencies), 1),
        },
        "statuses": {status: statuses.count(status) for status in sorted(set(statuses))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path("results/bench.json"))
    arguments = parser.parse_args()
    result = run(arguments.images, arguments.concurrency)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
