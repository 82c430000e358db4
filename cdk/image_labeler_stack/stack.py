"""The whole system in one stack, and the settings a deployer can pass as CDK context."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack, Tags
from aws_cdk import aws_logs as logs
from constructs import Construct, Node

from labeler.blueprint import DEFAULT_QUOTA, PageConfig, QuotaSpec, StackOutput
from labeler.models import UPLOAD_PREFIX

from . import nag
from .backfill import Backfill, LibrarySource
from .identity import Identity
from .ingest import Ingest
from .monitoring import Monitoring
from .notifications import Notifications
from .pipeline import Pipeline
from .storage import Storage
from .web import Web

DEFAULT_STACK_NAME = "ImageLabeler"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_OWNER = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
#: S3's rules for a bucket name (without the dotted-IP and reserved-prefix corner cases).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_LIBRARY_PREFIX = re.compile(r"^[^/*?][^*?]{0,1023}$")


def _whole_number(key: str, value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool):
        raise ValueError(f"{key} must be a whole number, not {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a whole number, not {value!r}") from None


def _owners(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


@dataclass(frozen=True)
class StackConfig:
    """What differs between deployments; read from CDK context (``cdk deploy -c name=value``)."""

    #: Receives the failures topic (failed images, stopped executions, alarms); confirm the email.
    alert_email: str | None = None
    #: An extra CORS origin for a local frontend dev server, e.g. ``http://localhost:5173``.
    dev_origin: str | None = None
    #: Uploaded images are deleted after this many days (0 keeps them); labels stay in the table.
    upload_retention_days: int = 30
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    #: Images per identity (upload owner) per UTC day; 0 = no limit.
    quota_per_identity: int = DEFAULT_QUOTA.per_owner_per_day
    #: Images for everyone together per UTC day; 0 = no limit.
    quota_global: int = DEFAULT_QUOTA.global_per_day
    #: Owners (``uploads/<owner>/``) without a quota: operators' CLI prefixes, never Cognito identity ids.
    quota_exempt_owners: tuple[str, ...] = DEFAULT_QUOTA.exempt_owners
    #: DetectLabels calls per second the account may make (its Rekognition TPS quota, or the share of it
    #: this stack may use): the label function's reserved concurrency. 0 = no reservation.
    rekognition_tps: int = 5
    #: ImagesValidated per hour at or above which the volume alarm notifies the topic.
    hourly_images_alarm: int = 200
    #: Monthly AWS Budgets cost budget (USD) for the account; notifies at 80% actual and 100% forecast.
    monthly_budget_usd: int = 20
    #: An existing bucket of the deployer's photos that backfill may label (read-only, under
    #: ``library_prefix``); its records are owned by ``library:<bucket>``, which no guest can read.
    library_bucket: str | None = None
    library_prefix: str = ""

    def __post_init__(self) -> None:
        if self.dev_origin is not None and not _ORIGIN.match(self.dev_origin):
            raise ValueError(f"devOrigin must look like http://localhost:5173, not {self.dev_origin!r}")
        if self.alert_email is not None and not _EMAIL.match(self.alert_email):
            raise ValueError(f"alertEmail is not an email address: {self.alert_email!r}")
        if self.upload_retention_days < 0 or 0 < self.upload_retention_days <= 14:
            raise ValueError(
                "uploadRetentionDays must be 0 (keep) or over 14 (FAILED images are replayable for 14 days)"
            )
        for key, value, low in (
            ("quotaPerIdentity", self.quota_per_identity, 0),
            ("quotaGlobal", self.quota_global, 0),
            ("rekognitionTps", self.rekognition_tps, 0),
            ("hourlyImagesAlarm", self.hourly_images_alarm, 1),
            ("monthlyBudgetUsd", self.monthly_budget_usd, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{key} must be a whole number >= {low}, not {value!r}")
        if self.library_bucket is not None and not _BUCKET.match(self.library_bucket):
            raise ValueError(f"libraryBucket is not an S3 bucket name: {self.library_bucket!r}")
        if self.library_prefix and (
            self.library_bucket is None or not _LIBRARY_PREFIX.match(self.library_prefix)
        ):
            raise ValueError(
                "libraryPrefix needs libraryBucket, and may not start with '/' or hold the IAM wildcards "
                f"'*' and '?': {self.library_prefix!r}"
            )
        for owner in self.quota_exempt_owners:
            if not _OWNER.match(owner):
                raise ValueError(
                    f"quotaExemptOwners: {owner!r} is not an upload owner (letters, digits, '.', '_', '-'; "
                    "no ':' - an owner with ':' is a Cognito identity id, i.e. a guest)"
                )

    @property
    def quota(self) -> QuotaSpec:
        return QuotaSpec(
            per_owner_per_day=self.quota_per_identity,
            global_per_day=self.quota_global,
            exempt_owners=self.quota_exempt_owners,
        )

    @classmethod
    def from_context(cls, node: Node) -> StackConfig:
        def get(key: str) -> Any:
            value = node.try_get_context(key)
            return value if value not in (None, "") else None

        retention = get("uploadRetentionDays")
        exempt = _owners(get("quotaExemptOwners"))
        return cls(
            alert_email=get("alertEmail"),
            dev_origin=get("devOrigin"),
            upload_retention_days=cls.upload_retention_days if retention is None else int(retention),
            quota_per_identity=_whole_number(
                "quotaPerIdentity", get("quotaPerIdentity"), cls.quota_per_identity
            ),
            quota_global=_whole_number("quotaGlobal", get("quotaGlobal"), cls.quota_global),
            quota_exempt_owners=cls.quota_exempt_owners if exempt is None else exempt,
            rekognition_tps=_whole_number("rekognitionTps", get("rekognitionTps"), cls.rekognition_tps),
            hourly_images_alarm=_whole_number(
                "hourlyImagesAlarm", get("hourlyImagesAlarm"), cls.hourly_images_alarm
            ),
            monthly_budget_usd=_whole_number(
                "monthlyBudgetUsd", get("monthlyBudgetUsd"), cls.monthly_budget_usd
            ),
            library_bucket=get("libraryBucket"),
            library_prefix=get("libraryPrefix") or "",
        )


def upload_bucket_name(stack: Stack) -> str:
    """Known before the bucket exists, so the site's CSP can name it while its CORS rule names the site.

    ``<stack name, lower case, <= 20 chars>-uploads-<last 12 hex digits of the stack's UUID>``: unique
    per deployment (no clash with a bucket retained by an earlier one) and not guessable in advance.
    """
    prefix = stack.stack_name.lower()[:20].strip("-")
    stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
    return f"{prefix}-uploads-{Fn.select(4, Fn.split('-', stack_uuid))}"


class ImageLabelerStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add("application", "image-labeler")
        bucket_name = upload_bucket_name(self)

        self.web = Web(self, "Web", upload_bucket_name=bucket_name, log_retention=config.log_retention)
        self.ingest = Ingest(
            self,
            "Ingest",
            bucket_name=bucket_name,
            allowed_origins=[self.web.url, *([config.dev_origin] if config.dev_origin else [])],
            upload_retention_days=config.upload_retention_days,
        )
        self.storage = Storage(self, "Storage")
        self.notifications = Notifications(self, "Notifications", alert_email=config.alert_email)
        self.pipeline = Pipeline(
            self,
            "Pipeline",
            uploads=self.ingest.bucket,
            table=self.storage.table,
            usage=self.storage.usage,
            labels=self.storage.labels,
            quota=config.quota,
            rekognition_tps=config.rekognition_tps,
            topic=self.notifications.topic,
            dead_letter_queue=self.ingest.dead_letter_queue,
            log_retention=config.log_retention,
        )
        self.backfill = Backfill(
            self,
            "Backfill",
            pipeline=self.pipeline,
            uploads=self.ingest.bucket,
            table=self.storage.table,
            log_retention=config.log_retention,
            library=(
                LibrarySource(config.library_bucket, config.library_prefix) if config.library_bucket else None
            ),
        )
        self.ingest.start_on_upload(self.pipeline.state_machine)
        self.ingest.clean_up_on_delete(self.pipeline.functions["cleanup"])
        self.identity = Identity(
            self, "Identity", uploads=self.ingest.bucket, table=self.storage.table, labels=self.storage.labels
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            state_machine=self.pipeline.state_machine,
            functions=self.pipeline.functions,
            dead_letter_queue=self.ingest.dead_letter_queue,
            topic=self.notifications.topic,
            hourly_images_alarm=config.hourly_images_alarm,
            monthly_budget_usd=config.monthly_budget_usd,
            alert_email=config.alert_email,
        )
        # Budgets checks at creation that it may publish: the topic policy and key policy first.
        self.monitoring.budget.node.add_dependency(self.notifications.topic, self.notifications.key)

        outputs = {
            StackOutput.SITE_URL: self.web.url,
            StackOutput.UPLOAD_BUCKET: self.ingest.bucket.bucket_name,
            StackOutput.UPLOAD_PREFIX: UPLOAD_PREFIX,
            StackOutput.RESULTS_TABLE: self.storage.table.table_name,
            StackOutput.LABELS_TABLE: self.storage.labels.table_name,
            StackOutput.STATE_MACHINE: self.pipeline.state_machine.state_machine_arn,
            StackOutput.BACKFILL_STATE_MACHINE: self.backfill.state_machine.state_machine_arn,
            StackOutput.LABEL_SETTINGS: self.pipeline.label_settings,
            StackOutput.FAILURE_TOPIC: self.notifications.topic.topic_arn,
            StackOutput.IDENTITY_POOL: self.identity.pool.ref,
            StackOutput.DEAD_LETTER_QUEUE: self.ingest.dead_letter_queue.queue_url,
            StackOutput.REGION: Aws.REGION,
        }
        if config.library_bucket:
            outputs[StackOutput.LIBRARY_BUCKET] = config.library_bucket
            outputs[StackOutput.LIBRARY_PREFIX] = config.library_prefix
        for key, value in outputs.items():
            CfnOutput(self, key.value, value=value)
        # The page finds everything it calls in /config.json, written at deploy time.
        self.site_deployment = self.web.deploy_site(
            PageConfig(
                region=Aws.REGION,
                identity_pool_id=self.identity.pool.ref,
                upload_bucket=self.ingest.bucket.bucket_name,
                results_table=self.storage.table.table_name,
                labels_table=self.storage.labels.table_name,
            ).document()
        )
        nag.acknowledge(self)
