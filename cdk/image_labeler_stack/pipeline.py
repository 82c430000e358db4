"""The four Lambdas and the Standard workflow that runs three of them, each with only the permissions it uses.

The label function's reserved concurrency is the ``rekognitionTps`` setting: one DetectLabels call takes
well under a second, so N concurrent label functions make at most about N calls per second. A flood of
uploads then waits in Step Functions' retries (throttled Lambda invokes are retried with backoff) instead
of exhausting the account's Rekognition TPS quota and everyone's Lambda concurrency. ``make deploy``
checks first that the reservation leaves the account its 10 unreserved executions (cdk/preflight.py).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from labeler.blueprint import (
    FAILURE_TOPIC_PLACEHOLDER,
    FUNCTIONS,
    FUNCTIONS_BY_NAME,
    PIPELINE_FUNCTIONS,
    STATE_MACHINE_FILE,
    FunctionSpec,
    QuotaSpec,
    definition_placeholders,
    function_environment,
)
from labeler.models import UPLOAD_PREFIX
from labeler.settings import settings_from_environment

from .bundling import ARCHITECTURE, RUNTIME, function_code, runtime_layer
from .ingest import MAX_EVENT_AGE, RETRY_ATTEMPTS, rule_name, rule_principal

#: The functions that write outcomes through the results repository, so keep the label index in step.
INDEX_WRITERS = ("store", "cleanup")
#: What a label index write does on the labels table (the table only: the ByLabel index is not written).
INDEX_WRITE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
)
#: Executions that end without reaching the Catch branch, so the ASL cannot publish them itself.
STOPPED_STATUSES = ("TIMED_OUT", "ABORTED")
STOPPED_RULE_NAME = "execution-stopped"


def inline_workflow(
    scope: Construct,
    construct_id: str,
    *,
    file: Path,
    substitutions: dict[str, str],
    comment: str,
    log_group: logs.ILogGroup,
    name: str | None = None,
) -> sfn.StateMachine:
    """A Standard state machine from an ASL file of ``statemachine/``, logged (ALL, with execution data)
    and traced. The ASL stays inline in the template (cfn-lint validates it) and CloudFormation
    substitutes the ARNs; its TimeoutSeconds is the execution timeout. The /aws/vendedlogs/ prefix of
    the log groups keeps CloudWatch Logs' resource policy small."""
    definition = file.read_text()
    placeholders = definition_placeholders(definition)
    if set(substitutions) != placeholders:
        raise ValueError(f"{file.name} placeholders {sorted(placeholders)} != {sorted(substitutions)}")
    return sfn.StateMachine(
        scope,
        construct_id,
        state_machine_name=name,
        comment=comment,
        state_machine_type=sfn.StateMachineType.STANDARD,
        definition_body=sfn.DefinitionBody.from_string(definition),
        definition_substitutions=substitutions,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        tracing_enabled=True,
    )


class Pipeline(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        uploads: s3.IBucket,
        table: dynamodb.ITable,
        usage: dynamodb.ITable,
        labels: dynamodb.ITable,
        quota: QuotaSpec,
        rekognition_tps: int,
        topic: sns.ITopic,
        dead_letter_queue: sqs.IQueue,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self._log_retention = log_retention
        layer = runtime_layer(self, "RuntimeLayer")
        environment = function_environment(table.table_name, usage.table_name, labels.table_name, quota)
        #: What the label function labels with (a backfill's ``stale`` compares records with it).
        self.label_settings = settings_from_environment(
            {**environment, **FUNCTIONS_BY_NAME["label"].environment}
        ).label_settings
        self.functions = {
            spec.name: self._function(
                spec,
                layer,
                {**environment, **spec.environment},
                reserved_concurrency=(rekognition_tps or None) if spec.name == "label" else None,
            )
            for spec in FUNCTIONS
        }

        read_uploads = iam.PolicyStatement(
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[uploads.arn_for_objects(f"{UPLOAD_PREFIX}*")],
        )
        self.functions["validate"].add_to_role_policy(read_uploads)
        # Without ListBucket, S3 answers 403 (not 404) for a key that is gone, and a deleted upload
        # would be recorded FAILED instead of REJECTED with OBJECT_GONE. Limited to uploads/.
        self.functions["validate"].add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[uploads.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{UPLOAD_PREFIX}*"]}},
            )
        )
        # DetectLabels reads the S3 object with the caller's credentials.
        self.functions["label"].add_to_role_policy(read_uploads)
        self.functions["label"].add_to_role_policy(
            iam.PolicyStatement(actions=["rekognition:DetectLabels"], resources=["*"])
        )
        # store writes outcomes; validate writes the PROCESSING progress records (conditional puts).
        for writer in ("validate", "store"):
            self.functions[writer].add_to_role_policy(
                iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[table.table_arn])
            )
        # The label index follows every outcome (anything but PROCESSING): store's, and cleanup's DELETED
        # tombstones. Each is one TransactWriteItems (the record's conditional Put; the manifest's Put,
        # Delete or ConditionCheck; entries' Puts and Deletes; counts' Updates) after a consistent GetItem
        # of the manifest, and a transaction needs each action's own permission. validate writes only
        # PROCESSING records and the backfill function only PROCESSING claims (it reads outcomes): none.
        for writer in INDEX_WRITERS:
            self.functions[writer].add_to_role_policy(
                iam.PolicyStatement(actions=list(INDEX_WRITE_ACTIONS), resources=[labels.table_arn])
            )

        # Quota charge: one TransactWriteItems of the version's charge item (Put) and two conditional
        # updates (owner/day, global/day); a transaction needs each item action's own permission.
        self.functions["validate"].add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:UpdateItem"], resources=[usage.table_arn]
            )
        )
        # cleanup: a deleted upload's other versions go (ListBucketVersions under uploads/ to find them),
        # and its record becomes a DELETED tombstone that expires (a conditional put).
        cleanup = self.functions["cleanup"]
        cleanup.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucketVersions"],
                resources=[uploads.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{UPLOAD_PREFIX}*"]}},
            )
        )
        cleanup.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:DeleteObjectVersion"], resources=[uploads.arn_for_objects(f"{UPLOAD_PREFIX}*")]
            )
        )
        cleanup.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[table.table_arn])
        )

        self.state_machine = self._state_machine(topic)
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[self.functions[spec.name].function_arn for spec in PIPELINE_FUNCTIONS],
            )
        )
        # sns:Publish on the topic, and kms:Decrypt + kms:GenerateDataKey* on its key (SNS's documented
        # publisher permissions for an encrypted topic).
        topic.grant_publish(self.state_machine)
        self.stopped_rule_role = iam.Role(
            self,
            "NotifyStoppedRole",
            assumed_by=rule_principal(self, STOPPED_RULE_NAME),
            description="Lets the stopped-executions rule publish to the failures topic, nothing else",
        )
        self.stopped_rule = self._notify_stopped_executions(topic, dead_letter_queue)

    def _log_group(self, construct_id: str, name: str | None = None) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            construct_id,
            log_group_name=name,
            retention=self._log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _function(
        self,
        spec: FunctionSpec,
        layer: lambda_.ILayerVersion,
        environment: dict[str, str],
        reserved_concurrency: int | None,
    ) -> lambda_.Function:
        name = spec.name.capitalize()
        log_group = self._log_group(f"{name}Logs")
        # Its own role, not the managed AWSLambdaBasicExecutionRole: logs go to this one log group only.
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"image-labeler {spec.name} function",
        )
        log_group.grant_write(role)
        return lambda_.Function(
            self,
            f"{name}Function",
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=function_code(spec.source_dir),
            layers=[layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            environment=environment,
            reserved_concurrent_executions=reserved_concurrency,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
        )

    def _state_machine(self, topic: sns.ITopic) -> sfn.StateMachine:
        substitutions = {
            spec.placeholder: self.functions[spec.name].function_arn
            for spec in PIPELINE_FUNCTIONS
            if spec.placeholder is not None
        }
        substitutions[FAILURE_TOPIC_PLACEHOLDER] = topic.topic_arn
        return inline_workflow(
            self,
            "StateMachine",
            file=STATE_MACHINE_FILE,
            substitutions=substitutions,
            comment="Image Labeler: validate -> label -> store one uploaded image",
            log_group=self._log_group(
                "StateMachineLogs", f"/aws/vendedlogs/states/{Aws.STACK_NAME}-pipeline"
            ),
        )

    def _notify_stopped_executions(self, topic: sns.ITopic, dead_letter_queue: sqs.IQueue) -> events.Rule:
        """TIMED_OUT and ABORTED executions bypass the Catch, so EventBridge publishes them instead."""
        field = events.EventField.from_path
        return events.Rule(
            self,
            "ExecutionStopped",
            rule_name=rule_name(self, STOPPED_RULE_NAME),
            description="Publishes pipeline executions that timed out or were aborted to the failures topic",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": list(STOPPED_STATUSES),
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                },
            ),
            targets=[
                targets.SnsTopic(
                    topic,
                    message=events.RuleTargetInput.from_object(
                        {
                            "status": field("$.detail.status"),
                            "execution_id": field("$.detail.executionArn"),
                            "start_date": field("$.detail.startDate"),
                            "stop_date": field("$.detail.stopDate"),
                            "input": field("$.detail.input"),
                            "reason": "The execution stopped before it could record an outcome; "
                            "start a new one with the same input to replay the image.",
                        }
                    ),
                    role=self.stopped_rule_role,
                    authorize_using_role=True,
                    dead_letter_queue=dead_letter_queue,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=MAX_EVENT_AGE,
                )
            ],
        )
