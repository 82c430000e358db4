"""CDK entry point. `cdk synth|deploy` runs it (see cdk.json); tests call :func:`build_app`.

Context (``-c key=value``): ``stackName`` (default ImageLabeler), ``alertEmail``, ``devOrigin``,
``uploadRetentionDays``, ``quotaPerIdentity``, ``quotaGlobal``, ``quotaExemptOwners``, ``rekognitionTps``,
``hourlyImagesAlarm``, ``monthlyBudgetUsd`` (see cdk/README.md and StackConfig).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from cdk.image_labeler_stack.stack import DEFAULT_STACK_NAME, ImageLabelerStack, StackConfig

#: CDK feature flags this app relies on (set here, not in cdk.json, so tests synthesize the same template).
FEATURE_FLAGS = {
    # S3 server access logs delivered through a bucket policy, not the legacy log-delivery ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


def build_app(
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    cloudformation_validation: bool = True,
) -> tuple[App, ImageLabelerStack]:
    """The app with its one stack, checked by cdk-nag's AwsSolutions pack at synth."""
    app = App(
        context={**FEATURE_FLAGS, **(context or {})},
        outdir=outdir,
        builtin_cloud_formation_validation=cloudformation_validation,
    )
    stack = ImageLabelerStack(
        app,
        app.node.try_get_context("stackName") or DEFAULT_STACK_NAME,
        config=StackConfig.from_context(app.node),
        description="Image Labeler: S3 uploads -> EventBridge -> Step Functions -> Lambda -> DynamoDB",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


if __name__ == "__main__":
    build_app()[0].synth()
