"""labeler.observability: the handlers' shared Powertools Metrics under concurrent invocations."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import warnings
from typing import Any

import pytest

from labeler.blueprint import Metric
from labeler.observability import count, metrics


def test_concurrent_invocations_in_one_process_never_fail_on_the_shared_metric_buffer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The local runtimes run a function's invocations on threads of one process. Unguarded, about one
    flush in 2,000 saw metrics that another invocation's flush then took, and raised
    SchemaValidationError: a task failed for no reason of its own."""

    @metrics.log_metrics
    def handler(event: Any, context: Any) -> None:
        count(Metric.IMAGES_LABELED)

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    errors: list[Exception] = []

    def invoke_many() -> None:
        for _ in range(3000):
            try:
                handler({}, None)
            except Exception as error:  # every failure is what the test counts
                errors.append(error)

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()) as printed:
        warnings.simplefilter("ignore")  # "No application metrics to publish": another thread took them
        threads = [threading.Thread(target=invoke_many) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    # and none was lost: each of the 24,000 went out in some invocation's EMF blob
    values = [json.loads(line)["ImagesLabeled"] for line in printed.getvalue().splitlines()]
    assert sum(len(value) if isinstance(value, list) else 1 for value in values) == 8 * 3000
