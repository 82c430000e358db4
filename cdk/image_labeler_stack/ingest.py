"""Uploads in, executions out: the upload bucket and the EventBridge rule that starts the pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from labeler.blueprint import (
    RUN_RESULTS_PREFIX,
    UPLOAD_CORS,
    deletion_event_pattern,
    upload_event_pattern,
    upload_input_transformer,
)
from labeler.imaging import MAX_IMAGE_BYTES

#: A FAILED image can be replayed (or redriven) for 14 days: keep replaced versions that long.
NONCURRENT_VERSION_DAYS = 14
ACCESS_LOG_DAYS = 90
RUN_RESULTS_DAYS = 14
#: Retry policy of every EventBridge target in the stack: StartExecution or Publish fail only on
#: throttling or an outage; after this the event waits in the dead-letter queue (14 days).
MAX_EVENT_AGE = Duration.hours(6)
RETRY_ATTEMPTS = 20
UPLOAD_RULE_NAME = "upload-created"
DELETE_RULE_NAME = "upload-deleted"


def rule_name(scope: Construct, suffix: str) -> str:
    """An explicit rule name: a role's trust policy can name the rule's ARN without a circular reference."""
    return f"{Stack.of(scope).stack_name[:40]}-{suffix}"


def rule_principal(scope: Construct, suffix: str) -> iam.ServicePrincipal:
    """EventBridge, acting for this account's rule ``suffix`` only (no confused deputy)."""
    rule_arn = f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{rule_name(scope, suffix)}"
    return iam.ServicePrincipal(
        "events.amazonaws.com",
        conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID, "aws:SourceArn": rule_arn}},
    )


def _pattern(pattern: dict[str, Any]) -> events.EventPattern:
    return events.EventPattern(
        source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"]
    )


class Ingest(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        allowed_origins: Sequence[str],
        upload_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        # Too large for the label backend, so always rejected as TOO_LARGE; guests cannot be size-limited
        # by IAM, so this caps what an oversized upload can cost.
        oversized = s3.LifecycleRule(
            id="ExpireOversizedUploads",
            object_size_greater_than=MAX_IMAGE_BYTES,
            expiration=Duration.days(1),
            noncurrent_version_expiration=Duration.days(1),
        )
        lifecycle = [
            # Multipart uploads a browser abandoned: their parts are billed until aborted.
            s3.LifecycleRule(
                id="AbortAbandonedUploads", abort_incomplete_multipart_upload_after=Duration.days(1)
            ),
            oversized,
            # Replaced and deleted uploads: the pipeline reads the event's version; keep it for replays.
            s3.LifecycleRule(
                id="ExpireReplacedVersions",
                noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                expired_object_delete_marker=True,
            ),
        ]
        # A backfill run's item results (its Distributed Map's ResultWriter): read in the days after it.
        lifecycle.append(
            s3.LifecycleRule(
                id="ExpireBackfillRunResults",
                prefix=RUN_RESULTS_PREFIX,
                expiration=Duration.days(RUN_RESULTS_DAYS),
                noncurrent_version_expiration=Duration.days(1),
            )
        )
        if upload_retention_days:
            # Labels live in the results table; the uploaded image is only needed for replays.
            lifecycle.append(
                s3.LifecycleRule(id="ExpireUploads", expiration=Duration.days(upload_retention_days))
            )
        # Guests write here anonymously: every request is recorded (who, which key, from where).
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only encryption S3 log delivery supports
            enforce_ssl=True,
            lifecycle_rules=[
                s3.LifecycleRule(id="ExpireAccessLogs", expiration=Duration.days(ACCESS_LOG_DAYS))
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Uploads",
            bucket_name=bucket_name,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            # Customer-provided keys: S3 could not read the object for the pipeline, and a guest could
            # make uploads nobody else can read. (The guest policy also requires no SSE-C header.)
            blocked_encryption_types=[s3.BlockedEncryptionType.SSE_C],
            enforce_ssl=True,
            # The pipeline pins every read to the event's version id.
            versioned=True,
            lifecycle_rules=lifecycle,
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods(method) for method in UPLOAD_CORS.methods],
                    allowed_origins=list(allowed_origins),
                    allowed_headers=list(UPLOAD_CORS.headers),
                    exposed_headers=list(UPLOAD_CORS.exposed_headers),
                    max_age=UPLOAD_CORS.max_age_s,
                )
            ],
            # Users' uploads outlive the stack: `cdk destroy` leaves the bucket (see README, tear down).
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="uploads/",
            removal_policy=RemovalPolicy.RETAIN,
        )
        cfn_bucket = cast(s3.CfnBucket, self.bucket.node.default_child)
        # CloudFormation types the size as a string of digits; CDK writes a number (a synth warning).
        cfn_bucket.add_property_override(
            f"LifecycleConfiguration.Rules.{lifecycle.index(oversized)}.ObjectSizeGreaterThan",
            str(MAX_IMAGE_BYTES),
        )
        # Native S3 -> EventBridge delivery. `event_bridge_enabled=True` would do the same through a
        # custom-resource Lambda; the property is plain CloudFormation.
        cfn_bucket.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        #: Events EventBridge could not deliver (to the pipeline or to the topic) after all retries.
        self.dead_letter_queue = sqs.Queue(
            self,
            "UndeliveredEvents",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )

    def start_on_upload(self, state_machine: sfn.IStateMachine) -> events.Rule:
        """Every Object Created event under ``uploads/`` starts one execution.

        The input is only the event fields the pipeline needs (``upload_input_transformer``): the
        uploader's source IP and requester id never reach the execution history, its logs or emails.
        """
        role = iam.Role(
            self,
            "StartPipelineRole",
            assumed_by=rule_principal(self, UPLOAD_RULE_NAME),
            description="Lets the upload rule start the pipeline's executions, nothing else",
        )
        rule = events.Rule(
            self,
            "UploadCreated",
            rule_name=rule_name(self, UPLOAD_RULE_NAME),
            description="Starts the pipeline for each object created under uploads/",
            event_pattern=_pattern(upload_event_pattern(self.bucket.bucket_name)),
            targets=[
                targets.SfnStateMachine(
                    state_machine,
                    role=role,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=MAX_EVENT_AGE,
                )
            ],
        )
        # Exactly the blueprint's transformer (the local stack applies the same one). Set on the L1:
        # RuleTargetInput would re-template the JSON and rename the paths.
        cast(events.CfnRule, rule.node.default_child).add_property_override(
            "Targets.0.InputTransformer", upload_input_transformer()
        )
        return rule

    def clean_up_on_delete(self, function: lambda_.IFunction) -> events.Rule:
        """Every deletion under ``uploads/`` (a delete marker or a version) invokes the cleanup function."""
        return events.Rule(
            self,
            "UploadDeleted",
            rule_name=rule_name(self, DELETE_RULE_NAME),
            description="Forgets deleted uploads: their records and their other versions",
            event_pattern=_pattern(deletion_event_pattern(self.bucket.bucket_name)),
            targets=[
                targets.LambdaFunction(
                    function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=MAX_EVENT_AGE,
                )
            ],
        )
