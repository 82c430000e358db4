"""The system's shape, in one place: what the CDK app deploys and what the local runtime provisions.

Names of keys and indexes, the three functions and their settings, the event pattern, and the ASL
with its substitutions. Neither ``cdk/`` nor ``labeler.local`` hard-code any of this.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from labeler.models import UPLOAD_PREFIX

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_MACHINE_FILE = REPO_ROOT / "statemachine" / "pipeline.asl.json"
FUNCTIONS_DIR = REPO_ROOT / "functions"

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


@dataclass(frozen=True)
class TableSpec:
    """Results table keys. ``OwnerByTime`` (LSI): one owner's images newest first ("My uploads");
    ``FailuresByTime`` (sparse GSI): REJECTED and FAILED images by time, for operators."""

    partition_key: str = "Owner"
    sort_key: str = "ImageName"
    by_time_index: str = "OwnerByTime"
    time_attribute: str = "Timestamp"
    failures_index: str = "FailuresByTime"
    failures_partition_key: str = "FailureStatus"
    failures_sort_key: str = "Timestamp"


@dataclass(frozen=True)
class FunctionSpec:
    """One pipeline Lambda. ``name`` is also its folder under ``functions/``."""

    name: str
    description: str
    memory_mb: int
    timeout_s: int
    #: ASL placeholder that receives this function's ARN.
    placeholder: str
    handler: str = "handler.lambda_handler"
    environment: Mapping[str, str] = field(default_factory=dict)

    @property
    def source_dir(self) -> Path:
        return FUNCTIONS_DIR / self.name


RESULTS_TABLE = TableSpec()

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="validate",
        description="Checks an upload is a JPEG/PNG the label backend accepts (header bytes only).",
        memory_mb=256,
        timeout_s=20,
        placeholder="ValidateFunctionArn",
    ),
    FunctionSpec(
        name="label",
        description="Detects labels in a validated image.",
        memory_mb=512,
        timeout_s=60,
        placeholder="LabelFunctionArn",
    ),
    FunctionSpec(
        name="store",
        description="Writes the image's terminal outcome to the results table.",
        memory_mb=256,
        timeout_s=20,
        placeholder="StoreFunctionArn",
    ),
)

FAILURE_TOPIC_PLACEHOLDER = "FailureTopicArn"
#: Lambda runtime on AWS (cdk/ checks its Runtime against this) and in the local stack.
LAMBDA_RUNTIME: Final = "python3.14"


class Metric(StrEnum):
    """CloudWatch metrics (EMF) the handlers emit and the dashboard and alarms read."""

    IMAGES_VALIDATED = "ImagesValidated"
    IMAGES_LABELED = "ImagesLabeled"
    IMAGES_REJECTED = "ImagesRejected"
    IMAGES_FAILED = "ImagesFailed"
    LABEL_LATENCY = "LabelLatency"


POWERTOOLS_SERVICE_NAME = "image-labeler"
METRICS_NAMESPACE = "ImageLabeler"


def function_environment(results_table: str, **overrides: str) -> dict[str, str]:
    """Environment shared by the three functions (Powertools + ``labeler.settings``)."""
    return {
        "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "LABELER_RESULTS_TABLE": results_table,
        **overrides,
    }


def upload_event_pattern(bucket_name: str) -> dict[str, Any]:
    """EventBridge pattern for new uploads under ``uploads/`` in the upload bucket."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": [{"prefix": UPLOAD_PREFIX}]}},
    }


def definition_placeholders(text: str | None = None) -> set[str]:
    return set(_PLACEHOLDER.findall(text if text is not None else STATE_MACHINE_FILE.read_text()))


def render_definition(substitutions: Mapping[str, str]) -> str:
    """The ASL with every ``${Name}`` replaced; fails loudly on a missing or unknown substitution."""
    text = STATE_MACHINE_FILE.read_text()
    wanted = definition_placeholders(text)
    missing, unknown = wanted - substitutions.keys(), substitutions.keys() - wanted
    if missing or unknown:
        raise ValueError(f"ASL substitutions: missing {sorted(missing)}, unknown {sorted(unknown)}")
    rendered = _PLACEHOLDER.sub(lambda match: substitutions[match[1]], text)
    json.loads(rendered)  # substitutions must keep it valid JSON
    return rendered
