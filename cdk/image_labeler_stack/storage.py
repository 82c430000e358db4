"""The results table (one item per uploaded image, keyed by uploader so guests can read only their own),
the label index (which images carry a label, and how many; every key starts with its owner, so guests
can read only their own) and the usage table (the quota counters, all of them expiring)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from labeler.blueprint import LABEL_INDEX, RESULTS_TABLE, USAGE_TABLE, IndexSpec


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


def _add_indexes(table: dynamodb.Table, indexes: tuple[IndexSpec, ...]) -> None:
    """A table's secondary indexes from its blueprint spec, in its order; every one projects ALL."""
    for index in indexes:
        if index.local:
            table.add_local_secondary_index(
                index_name=index.name,
                sort_key=_string(index.sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        else:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string(index.partition_key),
                sort_key=_string(index.sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
            )


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
        _add_indexes(self.table, RESULTS_TABLE.indexes)
        # The label index (labeler.aws.label_index): manifests, entries and counts, each written in the
        # same transaction as the record it follows from. Derived data: every item follows from the
        # records' labels, which the retained results table keeps, so it can be rebuilt from them and goes
        # with the stack (DESTROY, and no deletion protection, which would make `cdk destroy` fail on it).
        # PITR still undoes a bad write or a mistaken delete without a rebuild. An update that replaces
        # it (a key change) leaves it empty while the records stay: rebuild it after such a change.
        self.labels = dynamodb.Table(
            self,
            "Labels",
            partition_key=_string(LABEL_INDEX.partition_key),
            sort_key=_string(LABEL_INDEX.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # As the results table: guests read their own entries without KMS permissions.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # ByLabel (sparse: only entries carry the label attribute): for operators, never for guests.
        _add_indexes(self.labels, LABEL_INDEX.indexes)
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
