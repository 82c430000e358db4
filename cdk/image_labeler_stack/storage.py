"""The results table (one item per uploaded image, keyed by uploader so guests can read only their own)
and the usage table (the quota counters, all of them expiring)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from labeler.blueprint import RESULTS_TABLE, USAGE_TABLE


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Results",
            partition_key=_string(RESULTS_TABLE.partition_key),
            sort_key=_string(RESULTS_TABLE.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # The AWS managed key (aws/dynamodb): auditable in CloudTrail, and guests and functions
            # need no KMS permissions to use it.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # Users' results outlive the stack: `cdk destroy` leaves the table (see README, tear down).
            removal_policy=RemovalPolicy.RETAIN,
            # An update that would replace the table (a key change) fails instead of losing every result.
            deletion_protection=True,
            # Only the DELETED tombstones of deleted uploads carry it (see labeler.blueprint).
            time_to_live_attribute=RESULTS_TABLE.expires_attribute,
        )
        for index in RESULTS_TABLE.indexes:
            if index.local:
                self.table.add_local_secondary_index(
                    index_name=index.name,
                    sort_key=_string(index.sort_key),
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            else:
                self.table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=_string(index.partition_key),
                    sort_key=_string(index.sort_key),
                    projection_type=dynamodb.ProjectionType.ALL,
                )
        # Quota counters: per (owner, UTC day), per UTC day, and per charged image version. They expire,
        # so losing the table loses nothing that matters: it goes with the stack.
        self.usage = dynamodb.Table(
            self,
            "Usage",
            partition_key=_string(USAGE_TABLE.partition_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=USAGE_TABLE.expires_attribute,
            removal_policy=RemovalPolicy.DESTROY,
        )
