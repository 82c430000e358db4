"""Powertools Logger and Metrics shared by the three handlers (service and namespace from the environment)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from labeler.blueprint import METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME, Metric

logger = Logger(service=POWERTOOLS_SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=POWERTOOLS_SERVICE_NAME)


def count(metric: Metric) -> None:
    metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=1)


def milliseconds(metric: Metric, value: float) -> None:
    metrics.add_metric(name=metric.value, unit=MetricUnit.Milliseconds, value=value)
