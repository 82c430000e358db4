"""Create the stack's resources in an AWS endpoint (the local moto server), from ``labeler.blueprint``."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Final

import boto3

from labeler.blueprint import (
    FAILURE_TOPIC_PLACEHOLDER,
    FUNCTIONS,
    RESULTS_TABLE,
    FunctionSpec,
    function_environment,
    render_definition,
)

LAMBDA_RUNTIME: Final = "python3.13"


@dataclass(frozen=True)
class StackNames:
    """Physical names of one local stack (on AWS, CloudFormation names them)."""

    prefix: str = "image-labeler"

    @property
    def upload_bucket(self) -> str:
        return f"{self.prefix}-uploads"

    @property
    def results_table(self) -> str:
        return f"{self.prefix}-results"

    @property
    def failure_topic(self) -> str:
        return f"{self.prefix}-failures"

    @property
    def state_machine(self) -> str:
        return f"{self.prefix}-pipeline"

    def function(self, spec: FunctionSpec) -> str:
        return f"{self.prefix}-{spec.name}"

    def handler_modules(self) -> dict[str, str]:
        """Function name -> handler module, for ``moto_hooks.InProcessLambdas``."""
        return {self.function(spec): f"functions.{spec.name}.handler" for spec in FUNCTIONS}


@dataclass(frozen=True)
class StackOutputs:
    upload_bucket: str
    results_table: str
    failure_topic_arn: str
    state_machine_arn: str


def _code_zip(spec: FunctionSpec) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(spec.source_dir / "handler.py", "handler.py")
    return buffer.getvalue()


def _assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def provision(session: boto3.Session, names: StackNames) -> StackOutputs:
    """Create bucket, table, topic, functions and state machine. Expects an empty endpoint."""
    s3 = session.client("s3")
    s3.create_bucket(Bucket=names.upload_bucket)
    s3.put_bucket_versioning(Bucket=names.upload_bucket, VersioningConfiguration={"Status": "Enabled"})

    session.client("dynamodb").create_table(
        TableName=names.results_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in (
                RESULTS_TABLE.partition_key,
                RESULTS_TABLE.sort_key,
                RESULTS_TABLE.failures_partition_key,
                RESULTS_TABLE.failures_sort_key,
            )
        ],
        KeySchema=[
            {"AttributeName": RESULTS_TABLE.partition_key, "KeyType": "HASH"},
            {"AttributeName": RESULTS_TABLE.sort_key, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": RESULTS_TABLE.failures_index,
                "KeySchema": [
                    {"AttributeName": RESULTS_TABLE.failures_partition_key, "KeyType": "HASH"},
                    {"AttributeName": RESULTS_TABLE.failures_sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    topic_arn = session.client("sns").create_topic(Name=names.failure_topic)["TopicArn"]

    iam = session.client("iam")
    lambda_role = iam.create_role(
        RoleName=f"{names.prefix}-functions",
        AssumeRolePolicyDocument=_assume_role_policy("lambda.amazonaws.com"),
    )["Role"]["Arn"]
    states_role = iam.create_role(
        RoleName=f"{names.prefix}-states",
        AssumeRolePolicyDocument=_assume_role_policy("states.amazonaws.com"),
    )["Role"]["Arn"]

    awslambda = session.client("lambda")
    substitutions = {FAILURE_TOPIC_PLACEHOLDER: topic_arn}
    for spec in FUNCTIONS:
        function = awslambda.create_function(
            FunctionName=names.function(spec),
            Runtime=LAMBDA_RUNTIME,
            Role=lambda_role,
            Handler=spec.handler,
            Code={"ZipFile": _code_zip(spec)},
            Description=spec.description,
            Timeout=spec.timeout_s,
            MemorySize=spec.memory_mb,
            Environment={"Variables": function_environment(names.results_table, **spec.environment)},
        )
        substitutions[spec.placeholder] = function["FunctionArn"]

    state_machine_arn = session.client("stepfunctions").create_state_machine(
        name=names.state_machine,
        definition=render_definition(substitutions),
        roleArn=states_role,
        type="STANDARD",
    )["stateMachineArn"]
    return StackOutputs(
        upload_bucket=names.upload_bucket,
        results_table=names.results_table,
        failure_topic_arn=topic_arn,
        state_machine_arn=state_machine_arn,
    )
