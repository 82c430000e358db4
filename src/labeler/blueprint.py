"""The system's shape, in one place: what the CDK app deploys and what the local runtime provisions.

Names of keys and indexes, the functions and their settings, the event patterns and the upload
input, the ASL with its substitutions, the stack's outputs and the page's ``config.json``. Neither
``cdk/`` nor ``labeler_tools`` hard-code any of this; it ships in the Lambda layer with the rest of the
runtime because the handlers read the table's keys and the metric names from it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from labeler.imaging import MAX_IMAGE_BYTES
from labeler.models import UPLOAD_PREFIX

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_MACHINE_FILE = REPO_ROOT / "statemachine" / "pipeline.asl.json"
#: The backfill workflow: a Distributed Map that sends listed objects through the pipeline.
BACKFILL_STATE_MACHINE_FILE = REPO_ROOT / "statemachine" / "backfill.asl.json"
FUNCTIONS_DIR = REPO_ROOT / "functions"
#: The pipeline's ``TimeoutSeconds`` (statemachine/pipeline.asl.json; a test holds them equal).
PIPELINE_TIMEOUT_SECONDS = 900

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


@dataclass(frozen=True)
class IndexSpec:
    """A secondary index; every key attribute is a string. ``local``: an LSI (the table's partition key)."""

    name: str
    partition_key: str
    sort_key: str
    local: bool


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
    #: TTL attribute (epoch seconds): only the DELETED tombstones of deleted uploads carry it.
    expires_attribute: str = "ExpiresAt"

    @property
    def indexes(self) -> tuple[IndexSpec, ...]:
        """The indexes, in the order both CDK and the local provisioning create them."""
        return (
            IndexSpec(self.by_time_index, self.partition_key, self.time_attribute, local=True),
            IndexSpec(self.failures_index, self.failures_partition_key, self.failures_sort_key, local=False),
        )

    @property
    def key_attributes(self) -> tuple[str, ...]:
        """Every attribute a key of the table or of an index names, each once."""
        names = [self.partition_key, self.sort_key]
        for index in self.indexes:
            names += [index.partition_key, index.sort_key]
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class UsageTableSpec:
    """Quota counters: one item per (owner, UTC day), one per UTC day for everyone, and one per charged
    image version (so a retried or duplicate event is never charged twice). Every item expires."""

    partition_key: str = "Counter"
    count_attribute: str = "Images"
    expires_attribute: str = "ExpiresAt"


@dataclass(frozen=True)
class LabelIndexSpec:
    """The label index (``labeler.label_index``): which images carry a label, and how many, per owner.

    Every partition key starts with ``<owner>#`` (an owner's ``#`` and ``%`` percent-encoded), so a guest
    can be limited to its own entries with ``dynamodb:LeadingKeys``; ``#all#counts`` (no owner starts
    with ``#``) holds the counts over every owner, for operators. ``ByLabel`` (sparse GSI over the
    entries): a label's images across owners, newest first, for operators.
    """

    partition_key: str = "Partition"
    sort_key: str = "Sort"
    by_label_index: str = "ByLabel"
    label_attribute: str = "Label"
    count_attribute: str = "Images"
    #: What each kind of partition key ends with after ``<owner>``: a label's entries (``#label#<key>``),
    #: the owner's counts, the owner's manifests (one per image: the keys it is indexed under).
    entries_infix: str = "#label#"
    counts_suffix: str = "#counts"
    manifests_suffix: str = "#manifest"
    everyone: str = "#all"

    @property
    def indexes(self) -> tuple[IndexSpec, ...]:
        return (IndexSpec(self.by_label_index, self.label_attribute, self.sort_key, local=False),)

    @property
    def key_attributes(self) -> tuple[str, ...]:
        return (self.partition_key, self.sort_key, self.label_attribute)


@dataclass(frozen=True)
class FunctionSpec:
    """One pipeline Lambda. ``name`` is also its folder under ``functions/``."""

    name: str
    description: str
    memory_mb: int
    timeout_s: int
    #: ASL placeholder that receives this function's ARN; None for a function no state machine calls
    #: (cleanup is an EventBridge target).
    placeholder: str | None
    #: The state machine whose ASL holds the placeholder.
    workflow: Literal["pipeline", "backfill"] | None = "pipeline"
    handler: str = "handler.lambda_handler"
    environment: Mapping[str, str] = field(default_factory=dict)

    @property
    def source_dir(self) -> Path:
        return FUNCTIONS_DIR / self.name


@dataclass(frozen=True)
class UploadCorsSpec:
    """The upload bucket's CORS rule: the page PUTs uploads, and DELETEs a guest's own (a card's
    Delete button), straight to S3."""

    methods: tuple[str, ...] = ("PUT", "DELETE")
    headers: tuple[str, ...] = ("*",)
    exposed_headers: tuple[str, ...] = ("ETag", "x-amz-version-id")
    max_age_s: int = 3600
    #: The local page's origins: any loopback port, as its CSP's ``connect-src`` allows (the port is
    #: chosen after the bucket is made). On AWS the origins are the site's (CDK context).
    local_origins: tuple[str, ...] = ("http://127.0.0.1:*", "http://localhost:*")


RESULTS_TABLE = TableSpec()
LABEL_INDEX = LabelIndexSpec()
UPLOAD_CORS = UploadCorsSpec()


class _PageModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class PageTable(_PageModel):
    """The results table's keys, as the page queries them."""

    partition_key: str = RESULTS_TABLE.partition_key
    sort_key: str = RESULTS_TABLE.sort_key
    by_time_index: str = RESULTS_TABLE.by_time_index


class PageLabelIndex(_PageModel):
    """The label index's keys, as the page queries them: a label's entries are under
    ``<owner><entriesInfix><label key>``, the owner's counts under ``<owner><countsSuffix>``."""

    partition_key: str = LABEL_INDEX.partition_key
    sort_key: str = LABEL_INDEX.sort_key
    entries_infix: str = LABEL_INDEX.entries_infix
    counts_suffix: str = LABEL_INDEX.counts_suffix
    count_attribute: str = LABEL_INDEX.count_attribute


class PageConfig(_PageModel):
    """The page's ``config.json``: one builder for the CDK deployment (values may be CloudFormation
    tokens) and for ``labeler local``. The page reads its limits and the tables' key names from it."""

    region: str
    identity_pool_id: str
    upload_bucket: str
    results_table: str
    labels_table: str
    upload_prefix: str = UPLOAD_PREFIX
    max_upload_bytes: int = MAX_IMAGE_BYTES
    table: PageTable = PageTable()
    label_index: PageLabelIndex = PageLabelIndex()
    #: One URL for every AWS call (local only).
    endpoint: str | None = None
    local: bool = False

    def document(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


USAGE_TABLE = UsageTableSpec()

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
    FunctionSpec(
        name="cleanup",
        description="Forgets a deleted upload: its record, its other versions.",
        memory_mb=256,
        timeout_s=60,
        placeholder=None,
        workflow=None,
    ),
    FunctionSpec(
        name="backfill",
        description="Plans each object of a backfill run (claims what it labels) and settles failed ones.",
        memory_mb=256,
        timeout_s=20,
        placeholder="BackfillFunctionArn",
        workflow="backfill",
    ),
)
FUNCTIONS_BY_NAME: Final = {spec.name: spec for spec in FUNCTIONS}
#: The functions the pipeline state machine invokes, each through its ASL placeholder.
PIPELINE_FUNCTIONS: Final = tuple(spec for spec in FUNCTIONS if spec.workflow == "pipeline")
#: The functions the backfill state machine invokes.
BACKFILL_FUNCTIONS: Final = tuple(spec for spec in FUNCTIONS if spec.workflow == "backfill")
#: The backfill ASL's placeholder for the pipeline state machine it starts executions of.
PIPELINE_STATE_MACHINE_PLACEHOLDER: Final = "PipelineStateMachineArn"
#: The backfill ASL's placeholder for the bucket its Distributed Map writes each run's item results to
#: (ResultWriter: without it, AWS would gather every child's output into the run's 256 KiB state).
RUN_RESULTS_BUCKET_PLACEHOLDER: Final = "RunResultsBucket"
#: Where in that bucket (the upload bucket: outside uploads/, so no rule fires and no guest reads it).
RUN_RESULTS_PREFIX: Final = "backfill-runs/"


class StackOutput(StrEnum):
    """The CloudFormation outputs of a deployed stack (``cdk/``), which ``labeler --stack`` reads."""

    SITE_URL = "SiteUrl"
    UPLOAD_BUCKET = "UploadBucketName"
    UPLOAD_PREFIX = "UploadPrefix"
    RESULTS_TABLE = "ResultsTableName"
    LABELS_TABLE = "LabelsTableName"
    STATE_MACHINE = "StateMachineArn"
    BACKFILL_STATE_MACHINE = "BackfillStateMachineArn"
    LABEL_SETTINGS = "LabelSettings"
    LIBRARY_BUCKET = "LibraryBucketName"
    LIBRARY_PREFIX = "LibraryPrefix"
    FAILURE_TOPIC = "FailureTopicArn"
    IDENTITY_POOL = "IdentityPoolId"
    DEAD_LETTER_QUEUE = "DeadLetterQueueUrl"
    REGION = "Region"


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
    #: Backfill items whose image ended without an outcome (the settle step's BackfillItemFailed): the
    #: image's own failure is counted already, so the Lambda-errors alarm leaves these out.
    BACKFILL_ITEMS_FAILED = "BackfillItemsFailed"


POWERTOOLS_SERVICE_NAME = "image-labeler"
METRICS_NAMESPACE = "ImageLabeler"


@dataclass(frozen=True)
class QuotaSpec:
    """Daily image quotas, enforced by validate before any label call (0 = no limit).

    Defaults suit a small public demo: about $0.50 a day of DetectLabels at most. Exempt owners are
    operators' own ``uploads/<owner>/`` prefixes (``labeler upload`` writes under ``cli``); a guest can
    only write under its Cognito identity id (``<region>:<uuid>``), so it can never pass as one.
    """

    per_owner_per_day: int = 25
    global_per_day: int = 500
    exempt_owners: tuple[str, ...] = ("cli",)

    def environment(self) -> dict[str, str]:
        return {
            "LABELER_QUOTA_PER_OWNER_PER_DAY": str(self.per_owner_per_day),
            "LABELER_QUOTA_GLOBAL_PER_DAY": str(self.global_per_day),
            "LABELER_QUOTA_EXEMPT_OWNERS": json.dumps(list(self.exempt_owners)),
        }


DEFAULT_QUOTA = QuotaSpec()


def function_environment(
    results_table: str,
    usage_table: str,
    labels_table: str,
    quota: QuotaSpec = DEFAULT_QUOTA,
    **overrides: str,
) -> dict[str, str]:
    """Environment shared by the functions (Powertools + ``labeler.settings``)."""
    return {
        "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "LABELER_RESULTS_TABLE": results_table,
        "LABELER_USAGE_TABLE": usage_table,
        "LABELER_LABELS_TABLE": labels_table,
        **quota.environment(),
        **overrides,
    }


def _uploads_in(bucket_name: str, detail_type: str) -> dict[str, Any]:
    return {
        "source": ["aws.s3"],
        "detail-type": [detail_type],
        "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": [{"prefix": UPLOAD_PREFIX}]}},
    }


def upload_event_pattern(bucket_name: str) -> dict[str, Any]:
    """EventBridge pattern for new uploads under ``uploads/`` in the upload bucket."""
    return _uploads_in(bucket_name, "Object Created")


def deletion_event_pattern(bucket_name: str) -> dict[str, Any]:
    """Uploads that someone deleted (DeleteObject or DeleteObjects, whoever called it; a delete marker
    or a version). Lifecycle expirations are left out on purpose: expired uploads keep their labels."""
    pattern = _uploads_in(bucket_name, "Object Deleted")
    pattern["detail"]["reason"] = ["DeleteObject"]
    return pattern


#: The execution input: only what the pipeline needs of the S3 event. The source IP address and the
#: requester stay out of the input, and so out of the execution history, its logs and the emails.
#: S3 URL-encodes keys in events, so no value holds a quote and plain substitution is valid JSON.
UPLOAD_INPUT_PATHS: Final = {
    "time": "$.time",
    "bucket": "$.detail.bucket.name",
    "key": "$.detail.object.key",
    "version": "$.detail.object.version-id",
    "etag": "$.detail.object.etag",
    "size": "$.detail.object.size",
    "sequencer": "$.detail.object.sequencer",
    "request": "$.detail.request-id",
}
UPLOAD_INPUT_TEMPLATE: Final = (
    '{"time": "<time>", "object": {"bucket": "<bucket>", "key": "<key>", "version_id": "<version>", '
    '"etag": "<etag>", "size": <size>, "sequencer": "<sequencer>", "request_id": "<request>"}}'
)


def upload_input_transformer() -> dict[str, Any]:
    """The upload rule target's ``InputTransformer`` (CloudFormation and EventBridge API spelling)."""
    return {"InputPathsMap": dict(UPLOAD_INPUT_PATHS), "InputTemplate": UPLOAD_INPUT_TEMPLATE}


#: The email subscription's filter policy (on the ``status`` message attribute): failures and stopped
#: executions, never REJECTED images (a guest's junk upload must not page the operator). Messages
#: without the attribute (alarms, budgets, stopped-execution events) pass.
EMAIL_FILTER_POLICY: Final = {"status": [{"exists": False}, {"anything-but": ["REJECTED"]}]}


def definition_placeholders(text: str | None = None) -> set[str]:
    return set(_PLACEHOLDER.findall(text if text is not None else STATE_MACHINE_FILE.read_text()))


def render_definition(substitutions: Mapping[str, str], file: Path = STATE_MACHINE_FILE) -> str:
    """The ASL of ``file`` with every ``${Name}`` replaced; fails loudly on a missing or unknown
    substitution."""
    text = file.read_text()
    wanted = definition_placeholders(text)
    missing, unknown = wanted - substitutions.keys(), substitutions.keys() - wanted
    if missing or unknown:
        raise ValueError(f"ASL substitutions: missing {sorted(missing)}, unknown {sorted(unknown)}")
    rendered = _PLACEHOLDER.sub(lambda match: substitutions[match[1]], text)
    json.loads(rendered)  # substitutions must keep it valid JSON
    return rendered
