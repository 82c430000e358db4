"""Powertools Logger and Metrics shared by the three handlers (service and namespace from the environment)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from labeler.blueprint import METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME, Metric

logger = Logger(service=POWERTOOLS_SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=POWERTOOLS_SERVICE_NAME)


#: POWERTOOLS_METRICS_DISABLED stops the per-invocation flush, but Powertools still buffers added
#: metrics and prints them every 100; the local stack (quiet mode) does not want them at all.
_METRICS_ON = os.environ.get("POWERTOOLS_METRICS_DISABLED", "false").lower() != "true"


def count(metric: Metric) -> None:
    if _METRICS_ON:
        metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=1)


def milliseconds(metric: Metric, value: float) -> None:
    if _METRICS_ON:
        metrics.add_metric(name=metric.value, unit=MetricUnit.Milliseconds, value=value)
