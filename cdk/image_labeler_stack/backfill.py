"""The backfill workflow: a Distributed Map over a prefix of the upload bucket (or of the deployer's
library bucket) whose items run the pipeline state machine (statemachine/backfill.asl.json), and the
permissions of its plan function.

The state machine is named, so that its role can name its own map-run executions (a Distributed Map
starts its child workflows itself) without a reference to its own ARN.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from labeler.blueprint import (
    BACKFILL_FUNCTIONS,
    BACKFILL_STATE_MACHINE_FILE,
    PIPELINE_STATE_MACHINE_PLACEHOLDER,
    RUN_RESULTS_BUCKET_PLACEHOLDER,
    RUN_RESULTS_PREFIX,
)
from labeler.models import UPLOAD_PREFIX

from .pipeline import Pipeline, inline_workflow

#: The managed rule through which Step Functions learns that a ``.sync`` child execution ended.
SYNC_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"


def _states_arn(resource: str) -> str:
    return f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


@dataclass(frozen=True)
class LibrarySource:
    """A bucket of the deployer's (``-c libraryBucket``): read, under its prefix, and nothing else."""

    bucket: str
    prefix: str = ""

    @property
    def bucket_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:s3:::{self.bucket}"

    def listing(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[self.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{self.prefix}*"]}},
        )

    def reading(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[f"{self.bucket_arn}/{self.prefix}*"]
        )


class Backfill(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: Pipeline,
        uploads: s3.IBucket,
        table: dynamodb.ITable,
        log_retention: logs.RetentionDays,
        library: LibrarySource | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.library = library
        self.name = f"{Stack.of(self).stack_name[:60]}-backfill"
        pipeline_executions = _states_arn(f"execution:{pipeline.state_machine.state_machine_name}:*")
        (spec,) = BACKFILL_FUNCTIONS
        self.function = pipeline.functions[spec.name]
        listing = iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[uploads.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{UPLOAD_PREFIX}*"]}},
        )
        # plan: HeadObject (ListBucket: a key gone since the listing answers 404, not 403), the
        # object's record (GetItem) and its claim (a conditional PutItem), the claim's execution.
        for statement in (
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[uploads.arn_for_objects(f"{UPLOAD_PREFIX}*")]
            ),
            listing,
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem"], resources=[table.table_arn]
            ),
            iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[pipeline_executions]),
        ):
            self.function.add_to_role_policy(statement)

        substitutions = {
            str(spec.placeholder): self.function.function_arn,
            PIPELINE_STATE_MACHINE_PLACEHOLDER: pipeline.state_machine.state_machine_arn,
            RUN_RESULTS_BUCKET_PLACEHOLDER: uploads.bucket_name,
        }
        self.state_machine = inline_workflow(
            self,
            "StateMachine",
            file=BACKFILL_STATE_MACHINE_FILE,
            substitutions=substitutions,
            comment="Image Labeler backfill: the objects under a prefix through the pipeline, by mode",
            log_group=logs.LogGroup(
                self,
                "Logs",
                log_group_name=f"/aws/vendedlogs/states/{Aws.STACK_NAME}-backfill",
                retention=log_retention,
                removal_policy=RemovalPolicy.DESTROY,
            ),
            name=self.name,
        )
        own_runs = _states_arn(f"execution:{self.name}/*")
        for statement in (
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.function.function_arn]),
            # Each item runs the pipeline (.sync:2: started, watched, stopped with the item).
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[pipeline.state_machine.state_machine_arn]
            ),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"], resources=[pipeline_executions]
            ),
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{SYNC_RULE}"],
            ),
            # The Distributed Map: its ItemReader lists the prefix; its child workflows are its own.
            listing,
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[_states_arn(f"stateMachine:{self.name}")]
            ),
            # ResultWriter: each run's item results, as AWS documents its permissions (multipart parts).
            iam.PolicyStatement(
                actions=[
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload",
                ],
                resources=[uploads.arn_for_objects(f"{RUN_RESULTS_PREFIX}*")],
            ),
            # RedriveExecution: a redriven run reruns its failed map-run children.
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"],
                resources=[own_runs],
            ),
        ):
            self.state_machine.add_to_role_policy(statement)
        if library is not None:
            self._read(library, pipeline)

    def _read(self, library: LibrarySource, pipeline: Pipeline) -> None:
        """The library's objects go through the same steps as uploads: the map lists them, plan heads
        them, validate reads their header, label's DetectLabels reads them with label's credentials.
        ListBucket beside GetObject: a key gone since the listing answers 404, not 403."""
        self.state_machine.add_to_role_policy(library.listing())
        for function in (self.function, pipeline.functions["validate"], pipeline.functions["label"]):
            function.add_to_role_policy(library.reading())
        for function in (self.function, pipeline.functions["validate"]):
            function.add_to_role_policy(library.listing())
