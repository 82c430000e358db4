"""The failures topic: one message per failed image, stopped execution and alarm."""

from __future__ import annotations

from typing import Any, cast

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from labeler.blueprint import EMAIL_FILTER_POLICY


def _budgets_of_this_account() -> dict[str, Any]:
    return {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:budgets::{Aws.ACCOUNT_ID}:*"},
    }


def _alarms_of_this_account() -> dict[str, Any]:
    return {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"},
    }


class Notifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, alert_email: str | None) -> None:
        super().__init__(scope, construct_id)
        # A customer managed key: the AWS managed aws/sns key cannot grant CloudWatch or EventBridge.
        self.key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the Image Labeler failures topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        # CloudWatch alarms publish as a service principal, which the key policy must name. (EventBridge
        # publishes with its own role instead: see Pipeline.)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=_alarms_of_this_account(),
            )
        )
        # AWS Budgets publishes its notifications as a service principal too (see Monitoring).
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBudgetsOfThisAccount",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=_budgets_of_this_account(),
            )
        )
        self.topic = sns.Topic(
            self,
            "Failures",
            display_name="Image Labeler failures",
            master_key=self.key,
            enforce_ssl=True,
        )
        # A topic policy replaces SNS's default one, so CloudWatch alarms must be allowed explicitly.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=_alarms_of_this_account(),
            )
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBudgetsOfThisAccount",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=_budgets_of_this_account(),
            )
        )
        if alert_email:
            subscription = self.topic.add_subscription(subscriptions.EmailSubscription(alert_email))
            # REJECTED images still reach the topic (for other subscribers) but never page the operator:
            # a guest's junk upload is not an incident. Filtered on the message's ``status`` attribute.
            cfn = cast(sns.CfnSubscription, subscription.node.default_child)
            cfn.filter_policy = dict(EMAIL_FILTER_POLICY)
            cfn.filter_policy_scope = "MessageAttributes"
