"""The upload page: a private bucket behind CloudFront, strict security headers, config from the stack."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from labeler.blueprint import REPO_ROOT

#: The built frontend (a later issue builds it); until then a placeholder page.
FRONTEND_DIST = REPO_ROOT / "frontend" / "dist"
PLACEHOLDER_SITE = Path(__file__).resolve().parents[1] / "placeholder"
CONFIG_FILE = "config.json"
HSTS_MAX_AGE = Duration.days(730)


def site_source() -> Path:
    return FRONTEND_DIST if (FRONTEND_DIST / "index.html").is_file() else PLACEHOLDER_SITE


def content_security_policy(upload_bucket_name: str) -> str:
    """Scripts, styles and images from the site only; XHR only to the APIs the page calls."""
    region, suffix = Aws.REGION, Aws.URL_SUFFIX
    connect = [
        "'self'",
        f"https://cognito-identity.{region}.{suffix}",
        f"https://dynamodb.{region}.{suffix}",
        f"https://{upload_bucket_name}.s3.{region}.{suffix}",
    ]
    return "; ".join(
        [
            "default-src 'self'",
            "img-src 'self' data: blob:",
            f"connect-src {' '.join(connect)}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "upgrade-insecure-requests",
        ]
    )


class Web(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        upload_bucket_name: str,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self._log_retention = log_retention
        self.bucket = s3.Bucket(
            self,
            "Site",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            # Only build output lives here; the deployment below empties it when the stack is deleted.
            removal_policy=RemovalPolicy.DESTROY,
        )
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="Image Labeler: strict CSP, HSTS, nosniff, no framing",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(upload_bucket_name), override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, preload=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Image Labeler upload page",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                # HTTP gets a redirect and never content; HSTS then keeps browsers on HTTPS.
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=headers,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
        )

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}"

    def deploy_site(self, config: Mapping[str, Any]) -> s3deploy.BucketDeployment:
        """Upload the page and a ``config.json`` written at deploy time from the stack's resources."""
        log_group = logs.LogGroup(
            self, "DeploymentLogs", retention=self._log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        # Its own role instead of one with the managed AWSLambdaBasicExecutionRole; CDK adds the S3 and
        # CloudFront permissions the deployment needs.
        role = iam.Role(
            self,
            "DeploymentRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Copies the site and config.json into the site bucket at deploy time",
        )
        log_group.grant_write(role)
        return s3deploy.BucketDeployment(
            self,
            "Deployment",
            sources=[
                s3deploy.Source.asset(str(site_source())),
                s3deploy.Source.json_data(CONFIG_FILE, dict(config)),
            ],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
            retain_on_delete=False,
            role=role,
            log_group=log_group,
        )
