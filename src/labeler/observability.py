"""Powertools Logger and Metrics shared by the three handlers (service and namespace from the environment)."""

from __future__ import annotations

import os
import threading
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from labeler.blueprint import METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME, Metric


class _OneWriterAtATime(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider with its process-wide metric buffer behind a lock.

    On Lambda a process runs one invocation at a time. The local runtimes run a function's concurrent
    invocations on threads of one process, sharing this buffer: one invocation's flush could see
    metrics, another's flush then emptied the buffer, and the first raised SchemaValidationError
    ("Must contain at least one metric.") and failed its task (seen in tests/integration/test_faults.py).
    """

    _lock = threading.RLock()

    def add_metric(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            super().add_metric(*args, **kwargs)

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        with self._lock:
            super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)


logger = Logger(service=POWERTOOLS_SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=POWERTOOLS_SERVICE_NAME)
metrics.provider = _OneWriterAtATime(
    namespace=metrics.namespace,
    service=metrics.service,
    metric_set=metrics.metric_set,
    dimension_set=metrics.dimension_set,
    metadata_set=metrics.metadata_set,
    default_dimensions=metrics.default_dimensions,
)


#: POWERTOOLS_METRICS_DISABLED stops the per-invocation flush, but Powertools still buffers added
#: metrics and prints them every 100; the local stack (quiet mode) does not want them at all.
_METRICS_ON = os.environ.get("POWERTOOLS_METRICS_DISABLED", "false").lower() != "true"


def count(metric: Metric) -> None:
    if _METRICS_ON:
        metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=1)


def milliseconds(metric: Metric, value: float) -> None:
    if _METRICS_ON:
        metrics.add_metric(name=metric.value, unit=MetricUnit.Milliseconds, value=value)
