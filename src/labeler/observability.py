"""Powertools Logger and Metrics shared by the three handlers (service and namespace from the environment)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from labeler.blueprint import METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME

logger = Logger(service=POWERTOOLS_SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=POWERTOOLS_SERVICE_NAME)


def count(metric: str) -> None:
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


def milliseconds(metric: str, value: float) -> None:
    metrics.add_metric(name=metric, unit=MetricUnit.Milliseconds, value=value)
