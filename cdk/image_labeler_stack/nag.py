"""cdk-nag AwsSolutions: every finding this stack accepts, on the construct that causes it, with the reason.

Anything not acknowledged here fails `cdk synth` (and the infrastructure tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, CfnElement, DefaultStackSynthesizer, Stack, Validations
from constructs import IConstruct

from labeler.blueprint import RUN_RESULTS_PREFIX
from labeler.models import UPLOAD_PREFIX

if TYPE_CHECKING:
    from .stack import ImageLabelerStack

#: The id of the singleton Lambda that CDK adds at stack level for every BucketDeployment.
DEPLOYMENT_HANDLER = "Custom::CDKBucketDeployment"
BOOTSTRAP_QUALIFIER = "@aws-cdk/core:bootstrapQualifier"
XRAY = (
    "Resource::*",
    "X-Ray's PutTraceSegments/PutTelemetryRecords (and the sampling reads) have no resource-level "
    "permissions; Resource * is the only form AWS accepts.",
)


def _ack(construct: IConstruct, finding: str, reason: str) -> None:
    Validations.of(construct).acknowledge(
        Acknowledgment(id=f"AwsSolutions::AwsSolutions-{finding}", reason=reason)
    )


def _name_of(element: IConstruct | None) -> str:
    """How cdk-nag names a resource's name attribute inside a finding id: ``<LogicalId.Name>``."""
    return _arn_of(element).replace(".Arn>", ".Name>")


def _arn_of(element: IConstruct | None) -> str:
    """How cdk-nag names a resource's ARN inside a finding id: ``<LogicalId.Arn>``."""
    assert isinstance(element, CfnElement)
    stack = Stack.of(element)
    return f"<{stack.resolve(stack.get_logical_id(element))}.Arn>"


def acknowledge(stack: ImageLabelerStack) -> None:
    uploads = _arn_of(stack.ingest.bucket.node.default_child)
    site = _arn_of(stack.web.bucket.node.default_child)
    pipeline = stack.pipeline

    # --- Identity: guest uploads are the product ---------------------------------------------------------
    _ack(
        stack.identity.pool,
        "COG7",
        "Guest (unauthenticated) identities are how the upload page works without accounts. The guest "
        "role can only PutObject (STANDARD, no SSE-C) and DeleteObject under uploads/<its own identity id>/ "
        "and read its own results partition and its own label index partitions; daily quotas bound what "
        "guests can cost.",
    )
    _ack(
        stack.identity.guest_role,
        f"IAM5[Resource::{uploads}/{UPLOAD_PREFIX}<cognito-identity.amazonaws.com:sub>/*]",
        "The wildcard is the image's file name, under a prefix fixed by the policy variable of the "
        "caller's own Cognito identity id: a guest cannot write under another identity's prefix.",
    )

    # --- Pipeline roles ----------------------------------------------------------------------------------
    for name in ("validate", "label"):
        _ack(
            pipeline.functions[name].role,  # type: ignore[arg-type]
            f"IAM5[Resource::{uploads}/{UPLOAD_PREFIX}*]",
            f"The {name} function reads whichever upload the event names; keys are user-chosen names "
            "under uploads/. Read-only (GetObject, GetObjectVersion), upload bucket only.",
        )
    for name in ("validate", "store", "cleanup", "backfill"):
        _ack(pipeline.functions[name].role, f"IAM5[{XRAY[0]}]", XRAY[1])  # type: ignore[arg-type]
    _ack(
        pipeline.functions["cleanup"].role,  # type: ignore[arg-type]
        f"IAM5[Resource::{uploads}/{UPLOAD_PREFIX}*]",
        "The cleanup function removes the other versions of whichever upload was deleted (the event names "
        "it); keys are user-chosen names under uploads/. s3:DeleteObjectVersion only, upload bucket only; "
        "it is invoked only by the rule on Object Deleted events under uploads/.",
    )
    _ack(
        pipeline.functions["label"].role,  # type: ignore[arg-type]
        f"IAM5[{XRAY[0]}]",
        f"{XRAY[1]} rekognition:DetectLabels has no resource-level permissions either (it is not tied to "
        "a Rekognition resource); the function can call only that one Rekognition action.",
    )
    _ack(
        pipeline.state_machine.role,
        f"IAM5[{XRAY[0]}]",
        "Step Functions logging to CloudWatch Logs needs logs:*LogDelivery, PutResourcePolicy, "
        "DescribeResourcePolicies and DescribeLogGroups, which do not support resource-level permissions; "
        "X-Ray tracing likewise (see the X-Ray reason).",
    )
    for role in (pipeline.state_machine.role, pipeline.stopped_rule_role):
        _ack(
            role,
            "IAM5[Action::kms:GenerateDataKey*]",
            "SNS's documented permissions for publishing to a KMS-encrypted topic (kms:GenerateDataKey* "
            "and kms:Decrypt), granted by CDK's grantPublish on the topic's own key only.",
        )

    # --- Backfill ----------------------------------------------------------------------------------------
    backfill = stack.backfill
    pipeline_name = _name_of(pipeline.state_machine.node.default_child)
    pipeline_runs = (
        f"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{pipeline_name}:*"
    )
    _ack(
        backfill.function.role,  # type: ignore[arg-type]
        f"IAM5[Resource::{uploads}/{UPLOAD_PREFIX}*]",
        "The backfill function heads whichever listed upload it plans (HeadObject, s3:GetObject only); "
        "keys are user-chosen names under uploads/. Upload bucket only.",
    )
    if backfill.library is not None:
        library = f"Resource::arn:<AWS::Partition>:s3:::{backfill.library.bucket}/{backfill.library.prefix}*"
        for function in (backfill.function, pipeline.functions["validate"], pipeline.functions["label"]):
            _ack(
                function.role,  # type: ignore[arg-type]
                f"IAM5[{library}]",
                "Backfill labels the deployer's library bucket (libraryBucket): plan heads, validate and "
                "label read whichever photo the listing names, under libraryPrefix only. Read-only "
                "(GetObject, GetObjectVersion); the backfill workflow alone starts them on it.",
            )
    _ack(
        backfill.function.role,  # type: ignore[arg-type]
        f"IAM5[{pipeline_runs}]",
        "The plan step asks whether the execution holding an object's claim still runs: any execution of "
        "the pipeline state machine (execution names are per object), DescribeExecution only.",
    )
    _ack(
        backfill.state_machine.role,
        f"IAM5[{pipeline_runs}]",
        "Each backfill item runs one pipeline execution with the .sync:2 integration, which must describe "
        "and stop it; execution names are per object, so any execution of the pipeline state machine.",
    )
    _ack(
        backfill.state_machine.role,
        f"IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{backfill.name}/*]",
        "A Distributed Map runs its items as child executions of its own map runs, whose ARNs are made "
        "at run time (execution:<state machine>/<map run>:<item>); AWS's documented policy for them.",
    )
    _ack(
        backfill.state_machine.role,
        f"IAM5[Resource::{uploads}/{RUN_RESULTS_PREFIX}*]",
        "The Distributed Map's ResultWriter writes each run's item results under backfill-runs/<map run>/ "
        "(a key Step Functions makes at run time) in the upload bucket, outside uploads/: no rule fires on "
        "it and no guest may read it. The actions are AWS's documented ResultWriter permissions.",
    )
    _ack(
        backfill.state_machine.role,
        f"IAM5[{XRAY[0]}]",
        "Step Functions logging to CloudWatch Logs needs logs:*LogDelivery, PutResourcePolicy, "
        "DescribeResourcePolicies and DescribeLogGroups, which do not support resource-level permissions; "
        "X-Ray tracing likewise (see the X-Ray reason).",
    )

    # --- Ingest ------------------------------------------------------------------------------------------
    _ack(
        stack.ingest.dead_letter_queue,
        "SQS3",
        "This queue is itself the dead-letter queue of the stack's EventBridge targets (RuleTarget "
        "DeadLetterConfig), which cdk-nag does not recognise; a DLQ of a DLQ would add nothing.",
    )

    # --- Web ---------------------------------------------------------------------------------------------
    _ack(
        stack.web.bucket,
        "S1",
        "Private build output: only CloudFront (origin access control) reads it and only the deployment "
        "writes it. No user data is stored or served from it.",
    )
    distribution = stack.web.distribution
    _ack(
        distribution,
        "CFR1",
        "The site is a static upload page for the deployer's users, who may be anywhere; there is no "
        "legal or licensing reason to restrict countries.",
    )
    _ack(
        distribution,
        "CFR2",
        "The distribution serves static files only; uploads and reads go directly to S3/DynamoDB with "
        "IAM-scoped guest credentials, never through CloudFront. WAF would cost more than the whole "
        "pipeline at small scale; deployers can attach a web ACL to the distribution if they need one.",
    )
    _ack(
        distribution,
        "CFR3",
        "The distribution serves only the static upload page; every data access (uploads, result reads) "
        "goes to S3/DynamoDB directly, and the upload bucket is access-logged. Per-visitor request logs "
        "would add personal data without security value; CloudFront's request and error metrics remain.",
    )
    _ack(
        distribution,
        "CFR4",
        "The distribution uses the default *.cloudfront.net certificate, for which CloudFront does not "
        "allow a minimum protocol version; a custom domain with its own certificate would set TLSv1.2_2021.",
    )
    deployment_role = stack.site_deployment.handler_role
    # The CDK assets bucket is named after the bootstrap qualifier (`cdk bootstrap --qualifier`).
    qualifier = stack.node.try_get_context(BOOTSTRAP_QUALIFIER) or DefaultStackSynthesizer.DEFAULT_QUALIFIER
    deployment_reason = (
        "CDK's BucketDeployment: the handler copies the site asset from the CDK assets bucket to the site "
        "bucket and invalidates the distribution. These grants are CDK's, limited to those two buckets "
        "(CDK grants CloudFront invalidations on *); the handler runs only during deployments."
    )
    for finding in (
        "Action::s3:GetObject*",
        "Action::s3:GetBucket*",
        "Action::s3:List*",
        "Action::s3:DeleteObject*",
        "Action::s3:Abort*",
        f"Resource::arn:<AWS::Partition>:s3:::cdk-{qualifier}-assets-<AWS::AccountId>-<AWS::Region>/*",
        f"Resource::{site}/*",
        "Resource::*",
    ):
        _ack(deployment_role, f"IAM5[{finding}]", deployment_reason)
    (handler,) = [child for child in stack.node.children if child.node.id.startswith(DEPLOYMENT_HANDLER)]
    _ack(
        handler,
        "L1",
        "The BucketDeployment handler's runtime is chosen by aws-cdk-lib (it bundles the AWS CLI layer for "
        "it); it moves to a newer runtime with CDK upgrades. It runs only during deployments.",
    )
