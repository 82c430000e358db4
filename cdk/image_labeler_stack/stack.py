"""The whole system in one stack, and the settings a deployer can pass as CDK context."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack, Tags
from aws_cdk import aws_logs as logs
from constructs import Construct, Node

from labeler.models import UPLOAD_PREFIX

from . import nag
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

    def __post_init__(self) -> None:
        if self.dev_origin is not None and not _ORIGIN.match(self.dev_origin):
            raise ValueError(f"devOrigin must look like http://localhost:5173, not {self.dev_origin!r}")
        if self.alert_email is not None and not _EMAIL.match(self.alert_email):
            raise ValueError(f"alertEmail is not an email address: {self.alert_email!r}")
        if self.upload_retention_days < 0 or 0 < self.upload_retention_days <= 14:
            raise ValueError(
                "uploadRetentionDays must be 0 (keep) or over 14 (FAILED images are replayable for 14 days)"
            )

    @classmethod
    def from_context(cls, node: Node) -> StackConfig:
        def get(key: str) -> Any:
            value = node.try_get_context(key)
            return value if value not in (None, "") else None

        retention = get("uploadRetentionDays")
        return cls(
            alert_email=get("alertEmail"),
            dev_origin=get("devOrigin"),
            upload_retention_days=cls.upload_retention_days if retention is None else int(retention),
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
            topic=self.notifications.topic,
            dead_letter_queue=self.ingest.dead_letter_queue,
            log_retention=config.log_retention,
        )
        self.ingest.start_on_upload(self.pipeline.state_machine)
        self.identity = Identity(self, "Identity", uploads=self.ingest.bucket, table=self.storage.table)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            state_machine=self.pipeline.state_machine,
            functions=self.pipeline.functions,
            dead_letter_queue=self.ingest.dead_letter_queue,
            topic=self.notifications.topic,
        )

        outputs = {
            "SiteUrl": self.web.url,
            "UploadBucketName": self.ingest.bucket.bucket_name,
            "UploadPrefix": UPLOAD_PREFIX,
            "ResultsTableName": self.storage.table.table_name,
            "StateMachineArn": self.pipeline.state_machine.state_machine_arn,
            "FailureTopicArn": self.notifications.topic.topic_arn,
            "IdentityPoolId": self.identity.pool.ref,
            "DeadLetterQueueUrl": self.ingest.dead_letter_queue.queue_url,
            "Region": Aws.REGION,
        }
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)
        # The page finds everything it calls in /config.json, written at deploy time.
        self.site_deployment = self.web.deploy_site(
            {
                "region": Aws.REGION,
                "identityPoolId": self.identity.pool.ref,
                "uploadBucket": self.ingest.bucket.bucket_name,
                "uploadPrefix": UPLOAD_PREFIX,
                "resultsTable": self.storage.table.table_name,
            }
        )
        nag.acknowledge(self)
