"""Create the stack's resources in an AWS endpoint (the local moto server), from ``labeler.blueprint``."""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

import boto3

from labeler.blueprint import (
    BACKFILL_STATE_MACHINE_FILE,
    DEFAULT_QUOTA,
    EMAIL_FILTER_POLICY,
    FAILURE_TOPIC_PLACEHOLDER,
    FUNCTIONS,
    FUNCTIONS_BY_NAME,
    LABEL_INDEX,
    LAMBDA_RUNTIME,
    PIPELINE_STATE_MACHINE_PLACEHOLDER,
    RESULTS_TABLE,
    RUN_RESULTS_BUCKET_PLACEHOLDER,
    UPLOAD_CORS,
    USAGE_TABLE,
    FunctionSpec,
    IndexSpec,
    QuotaSpec,
    deletion_event_pattern,
    function_environment,
    render_definition,
    upload_event_pattern,
    upload_input_transformer,
)
from labeler.settings import settings_from_environment
from labeler_tools.deployment import LocalResources, StackNames

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CORSRuleTypeDef

#: The upload bucket's CORS rule (``labeler.blueprint.UPLOAD_CORS``), for the local page's origins. moto
#: answers the browser's pre-flights from it (``hooks.s3``).
UPLOAD_CORS_RULE: CORSRuleTypeDef = {
    "AllowedMethods": list(UPLOAD_CORS.methods),
    "AllowedOrigins": list(UPLOAD_CORS.local_origins),
    "AllowedHeaders": list(UPLOAD_CORS.headers),
    "ExposeHeaders": list(UPLOAD_CORS.exposed_headers),
    "MaxAgeSeconds": UPLOAD_CORS.max_age_s,
}


def _code_zip(spec: FunctionSpec) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(spec.source_dir / "handler.py", "handler.py")
    return buffer.getvalue()


def _key_schema(partition_key: str, sort_key: str) -> list[Any]:
    return [
        {"AttributeName": partition_key, "KeyType": "HASH"},
        {"AttributeName": sort_key, "KeyType": "RANGE"},
    ]


def _index(index: IndexSpec) -> Any:
    return {
        "IndexName": index.name,
        "KeySchema": _key_schema(index.partition_key, index.sort_key),
        "Projection": {"ProjectionType": "ALL"},
    }


def _create_table(
    dynamodb: Any,
    name: str,
    key: tuple[str, str],
    attributes: tuple[str, ...],
    indexes: tuple[IndexSpec, ...],
) -> None:
    """A table keyed ``key`` (every key attribute a string) with ``indexes``, on demand."""
    local, shared = (
        [_index(index) for index in indexes if index.local],
        [_index(index) for index in indexes if not index.local],
    )
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": attribute, "AttributeType": "S"} for attribute in attributes],
        KeySchema=_key_schema(*key),
        **({"LocalSecondaryIndexes": local} if local else {}),
        **({"GlobalSecondaryIndexes": shared} if shared else {}),
    )


def create_results_table(dynamodb: Any, name: str) -> None:
    """The results table (``labeler.blueprint.RESULTS_TABLE``), its indexes and TTL, as CDK declares it."""
    spec = RESULTS_TABLE
    _create_table(dynamodb, name, (spec.partition_key, spec.sort_key), spec.key_attributes, spec.indexes)
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.expires_attribute}
    )


def create_labels_table(dynamodb: Any, name: str) -> None:
    """The label index's table (``labeler.blueprint.LABEL_INDEX``), as the CDK stack declares it."""
    spec = LABEL_INDEX
    _create_table(dynamodb, name, (spec.partition_key, spec.sort_key), spec.key_attributes, spec.indexes)


def _assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def provision(
    session: boto3.Session,
    names: StackNames,
    *,
    environment: dict[str, str] | None = None,
    quota: QuotaSpec = DEFAULT_QUOTA,
    deliver_uploads: bool = True,
) -> LocalResources:
    """Create every resource of the stack in an empty endpoint.

    ``environment`` adds settings for the three functions (e.g. the label backend).
    ``deliver_uploads=False`` creates the upload rule DISABLED: uploads then start nothing until
    :func:`set_upload_delivery` turns it on (used while restoring state and by tests that start
    executions themselves).
    """
    s3 = session.client("s3")
    s3.create_bucket(Bucket=names.upload_bucket)
    s3.put_bucket_versioning(Bucket=names.upload_bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=names.upload_bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    s3.put_bucket_cors(Bucket=names.upload_bucket, CORSConfiguration={"CORSRules": [UPLOAD_CORS_RULE]})
    s3.create_bucket(Bucket=names.library_bucket)

    dynamodb = session.client("dynamodb")
    create_results_table(dynamodb, names.results_table)
    create_labels_table(dynamodb, names.labels_table)
    dynamodb.create_table(
        TableName=names.usage_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": USAGE_TABLE.partition_key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": USAGE_TABLE.partition_key, "KeyType": "HASH"}],
    )
    dynamodb.update_time_to_live(
        TableName=names.usage_table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": USAGE_TABLE.expires_attribute},
    )
    sns, sqs = session.client("sns"), session.client("sqs")
    topic_arn = sns.create_topic(Name=names.failure_topic)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=names.notifications_queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"FilterPolicy": json.dumps(EMAIL_FILTER_POLICY)},
    )

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
    variables: dict[str, dict[str, str]] = {}
    substitutions = {"pipeline": {FAILURE_TOPIC_PLACEHOLDER: topic_arn}, "backfill": {}}
    arns = {}
    for spec in FUNCTIONS:
        variables[spec.name] = function_environment(
            names.results_table,
            names.usage_table,
            names.labels_table,
            quota,
            **spec.environment,
            **(environment or {}),
        )
        function = awslambda.create_function(
            FunctionName=names.function(spec),
            Runtime=LAMBDA_RUNTIME,
            Role=lambda_role,
            Handler=spec.handler,
            Code={"ZipFile": _code_zip(spec)},
            Description=spec.description,
            Timeout=spec.timeout_s,
            MemorySize=spec.memory_mb,
            Environment={"Variables": variables[spec.name]},
        )
        arns[spec.name] = function["FunctionArn"]
        if spec.placeholder is not None and spec.workflow is not None:
            substitutions[spec.workflow][spec.placeholder] = function["FunctionArn"]

    sfn = session.client("stepfunctions")
    state_machine_arn = sfn.create_state_machine(
        name=names.state_machine,
        definition=render_definition(substitutions["pipeline"]),
        roleArn=states_role,
        type="STANDARD",
    )["stateMachineArn"]
    substitutions["backfill"][PIPELINE_STATE_MACHINE_PLACEHOLDER] = state_machine_arn
    substitutions["backfill"][RUN_RESULTS_BUCKET_PLACEHOLDER] = names.upload_bucket
    backfill_state_machine_arn = sfn.create_state_machine(
        name=names.backfill_state_machine,
        definition=render_definition(substitutions["backfill"], BACKFILL_STATE_MACHINE_FILE),
        roleArn=states_role,
        type="STANDARD",
    )["stateMachineArn"]
    events_role = iam.create_role(
        RoleName=f"{names.prefix}-events",
        AssumeRolePolicyDocument=_assume_role_policy("events.amazonaws.com"),
    )["Role"]["Arn"]
    events = session.client("events")
    events.put_rule(
        Name=names.upload_rule,
        EventPattern=json.dumps(upload_event_pattern(names.upload_bucket)),
        State="ENABLED" if deliver_uploads else "DISABLED",
        Description="New uploads under uploads/ start the labeling pipeline.",
    )
    # The transformer's dict shape is the API's; boto3-stubs' TypedDict cannot take it as built.
    pipeline_target: Any = {
        "Id": "pipeline",
        "Arn": state_machine_arn,
        "RoleArn": events_role,
        "InputTransformer": upload_input_transformer(),
    }
    events.put_targets(Rule=names.upload_rule, Targets=[pipeline_target])
    events.put_rule(
        Name=names.deletion_rule,
        EventPattern=json.dumps(deletion_event_pattern(names.upload_bucket)),
        State="ENABLED",
        Description="Deleted uploads are forgotten: record tombstoned, versions removed.",
    )
    events.put_targets(
        Rule=names.deletion_rule,
        Targets=[{"Id": "cleanup", "Arn": arns[FUNCTIONS_BY_NAME["cleanup"].name]}],
    )
    identity_pool_id = session.client("cognito-identity").create_identity_pool(
        IdentityPoolName=names.identity_pool, AllowUnauthenticatedIdentities=True
    )["IdentityPoolId"]
    return LocalResources(
        region=session.region_name or "",
        upload_bucket=names.upload_bucket,
        results_table=names.results_table,
        labels_table=names.labels_table,
        usage_table=names.usage_table,
        failure_topic_arn=topic_arn,
        state_machine_arn=state_machine_arn,
        backfill_state_machine_arn=backfill_state_machine_arn,
        label_settings=settings_from_environment(variables["label"]).label_settings,
        library_bucket=names.library_bucket,
        upload_rule=names.upload_rule,
        identity_pool_id=identity_pool_id,
        notifications_queue_url=queue_url,
    )


def set_upload_delivery(session: boto3.Session, stack: LocalResources, enabled: bool) -> None:
    """Turn the upload rule on or off (EventBridge EnableRule / DisableRule)."""
    events = session.client("events")
    if enabled:
        events.enable_rule(Name=stack.upload_rule)
    else:
        events.disable_rule(Name=stack.upload_rule)
