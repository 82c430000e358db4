"""The synthesized CloudFormation template: every resource, property and permission the stack promises."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from labeler.blueprint import (
    DEFAULT_QUOTA,
    EMAIL_FILTER_POLICY,
    FAILURE_TOPIC_PLACEHOLDER,
    FUNCTIONS,
    LABEL_INDEX,
    LAMBDA_RUNTIME,
    PIPELINE_FUNCTIONS,
    RESULTS_TABLE,
    STATE_MACHINE_FILE,
    FunctionSpec,
    function_environment,
    render_definition,
    upload_event_pattern,
    upload_input_transformer,
)
from labeler.imaging import MAX_IMAGE_BYTES

from .conftest import CONTEXT, Synthesized

Statement = dict[str, Any]


# --- helpers ---------------------------------------------------------------------------------------------


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def arn(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


#: What ``AWS::StackId`` resolves to in :func:`render`; the upload bucket's name ends with its last group.
STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/ImageLabeler/5e8a1b70-5f1e-11ef-8c4e-0a1b2c3d4e5f"
)


def _resolve(value: Any) -> Any:
    if isinstance(value, str | int):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part) for part in parts)
    if "Fn::Select" in value:
        index, items = value["Fn::Select"]
        return _resolve(items)[index]
    if "Fn::Split" in value:
        separator, text = value["Fn::Split"]
        return render(text).split(separator)
    if value.get("Ref") == "AWS::StackId":
        return STACK_ID
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if "Fn::Sub" in value:
        return value["Fn::Sub"]
    raise AssertionError(f"unexpected value {value!r}")


def render(value: Any) -> str:
    """A CloudFormation value as readable text: ``Ref``/``GetAtt`` become ``<Id>``/``<Id.Attr>``."""
    resolved = _resolve(value)
    assert isinstance(resolved, str), value
    return resolved


def normalized(statement: Statement) -> Statement:
    """Order-independent form of a policy statement (actions and resources as sorted lists)."""
    result = dict(statement)
    result.pop("Sid", None)
    for key in ("Action", "Resource"):
        if key in result:
            values = result[key] if isinstance(result[key], list) else [result[key]]
            result[key] = sorted(values, key=json.dumps)
    return result


def role_statements(synthesized: Synthesized, role_id: str) -> list[Statement]:
    """Every identity-policy statement of a role: inline policies and attached AWS::IAM::Policy."""
    role = synthesized.resources[role_id]["Properties"]
    statements = [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]
    for policy in synthesized.of_type("AWS::IAM::Policy").values():
        if ref(role_id) in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return sorted((normalized(s) for s in statements), key=_canonical)


def allow(actions: list[str], resources: list[Any], **extra: Any) -> Statement:
    return normalized({"Action": actions, "Effect": "Allow", "Resource": resources, **extra})


def expect_statements(synthesized: Synthesized, role_id: str, *expected: Statement) -> None:
    assert role_statements(synthesized, role_id) == sorted(expected, key=_canonical)


def _canonical(statement: Statement) -> str:
    """A sort key that does not depend on the order of a statement's keys (CDK's or a test's)."""
    return json.dumps(statement, sort_keys=True)


def trusted_services(synthesized: Synthesized, role_id: str) -> list[Any]:
    trust = synthesized.resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return [statement["Principal"].get("Service") for statement in trust]


def bucket_policy(synthesized: Synthesized, bucket_id: str) -> list[Statement]:
    (policy,) = [
        p
        for p in synthesized.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == ref(bucket_id)
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]  # type: ignore[no-any-return]


def function_id(synthesized: Synthesized, spec: FunctionSpec) -> str:
    return synthesized.logical_id(f"Pipeline/{spec.name.capitalize()}Function/Resource")


#: Unique per deployment (from the stack's UUID), so the site's CSP can name it before it exists.
UPLOAD_BUCKET = "imagelabeler-uploads-0a1b2c3d4e5f"
XRAY_WRITE = allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"])
#: What CDK grants a state machine that logs (ALL) and traces; none of these actions take a resource.
_LOG_DELIVERY = [
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
]  # fmt: skip
_TRACES = [
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
]
STATE_MACHINE_LOGS_AND_TRACES = (allow(_LOG_DELIVERY, ["*"]), allow(_TRACES, ["*"]))


@pytest.fixture(scope="module")
def template(synthesized: Synthesized) -> Template:
    return Template.from_json(synthesized.template)


# --- the whole stack -------------------------------------------------------------------------------------


def test_the_stack_holds_exactly_these_resources(template: Template) -> None:
    expected = {
        "AWS::S3::Bucket": 3,  # uploads, their access logs, the site
        "AWS::Lambda::Function": 6,  # validate, label, store, cleanup, backfill + BucketDeployment's handler
        "AWS::Lambda::LayerVersion": 2,  # ours + the AWS CLI layer of BucketDeployment
        "AWS::StepFunctions::StateMachine": 2,  # the pipeline, the backfill
        "AWS::Events::Rule": 3,  # uploads created, uploads deleted, executions stopped
        "AWS::SQS::Queue": 1,
        "AWS::DynamoDB::Table": 3,  # results, label index, usage (quota counters)
        "AWS::SNS::Topic": 1,
        "AWS::KMS::Key": 1,
        "AWS::Cognito::IdentityPool": 1,
        "AWS::CloudFront::Distribution": 1,
        "AWS::CloudWatch::Dashboard": 1,
        "AWS::CloudWatch::Alarm": 11,  # + cleanup and backfill throttles, hourly volume
        "AWS::Budgets::Budget": 1,
        # No S3 notification custom resource, no log-retention Lambda.
        "Custom::S3BucketNotifications": 0,
        "Custom::LogRetention": 0,
    }
    for resource_type, count in expected.items():
        template.resource_count_is(resource_type, count)


def test_no_role_uses_managed_policies(synthesized: Synthesized) -> None:
    for role in synthesized.of_type("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_wildcard_resources_only_for_actions_without_resource_level_permissions(
    synthesized: Synthesized,
) -> None:
    allowed = {
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "rekognition:DetectLabels",
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "cloudfront:GetInvalidation", "cloudfront:CreateInvalidation",
    }  # fmt: skip
    for role_id in synthesized.of_type("AWS::IAM::Role"):
        for statement in role_statements(synthesized, role_id):
            if "*" in statement["Resource"]:
                assert set(statement["Action"]) <= allowed, (role_id, statement)


def test_every_bucket_is_private_encrypted_and_tls_only(synthesized: Synthesized) -> None:
    buckets = synthesized.of_type("AWS::S3::Bucket")
    for bucket_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == dict.fromkeys(
            ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
        )
        assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        statements = bucket_policy(synthesized, bucket_id)
        assert {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [arn(bucket_id), {"Fn::Join": ["", [arn(bucket_id), "/*"]]}],
        } in statements
        for statement in statements:
            assert statement["Effect"] == "Deny" or "Service" in statement["Principal"], statement


def test_outputs_name_what_the_cli_needs(synthesized: Synthesized, ids: dict[str, str]) -> None:
    outputs = {key: value["Value"] for key, value in synthesized.template["Outputs"].items()}
    assert outputs == {
        "SiteUrl": {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [ids["distribution"], "DomainName"]}]]},
        "UploadBucketName": ref(ids["uploads"]),
        "UploadPrefix": "uploads/",
        "ResultsTableName": ref(ids["table"]),
        "LabelsTableName": ref(ids["labels"]),
        "StateMachineArn": ref(ids["state_machine"]),
        "BackfillStateMachineArn": ref(ids["backfill"]),
        "LabelSettings": "rekognition max_labels=10 min_confidence=50",
        "FailureTopicArn": ref(ids["topic"]),
        "IdentityPoolId": ref(ids["pool"]),
        "DeadLetterQueueUrl": ref(ids["dlq"]),
        "Region": ref("AWS::Region"),
        "LibraryBucketName": "example-photos",
        "LibraryPrefix": "camera/",
    }


# --- ingest ----------------------------------------------------------------------------------------------


def test_upload_bucket(synthesized: Synthesized, ids: dict[str, str]) -> None:
    bucket = synthesized.resources[ids["uploads"]]
    properties = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert render(properties["BucketName"]) == UPLOAD_BUCKET
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    assert properties["LoggingConfiguration"] == {
        "DestinationBucketName": ref(ids["access_logs"]),
        "LogFilePrefix": "uploads/",
    }


def test_upload_bucket_lifecycle_cleans_up_abandoned_rejected_and_old_uploads(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    configuration = synthesized.resources[ids["uploads"]]["Properties"]["LifecycleConfiguration"]
    rules = {rule["Id"]: {k: v for k, v in rule.items() if k != "Id"} for rule in configuration["Rules"]}
    assert rules == {
        "AbortAbandonedUploads": {
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            "Status": "Enabled",
        },
        "ExpireOversizedUploads": {
            "ExpirationInDays": 1,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
            "ObjectSizeGreaterThan": str(MAX_IMAGE_BYTES),
            "Status": "Enabled",
        },
        "ExpireReplacedVersions": {
            "ExpiredObjectDeleteMarker": True,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 14},
            "Status": "Enabled",
        },
        "ExpireUploads": {"ExpirationInDays": 30, "Status": "Enabled"},
        "ExpireBackfillRunResults": {
            "ExpirationInDays": 14,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
            "Prefix": "backfill-runs/",
            "Status": "Enabled",
        },
    }


def test_cors_allows_only_the_site_and_the_dev_origin(synthesized: Synthesized, ids: dict[str, str]) -> None:
    (rule,) = synthesized.resources[ids["uploads"]]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert [render(origin) for origin in rule["AllowedOrigins"]] == [
        f"https://<{ids['distribution']}.DomainName>",
        CONTEXT["devOrigin"],
    ]
    assert rule["AllowedMethods"] == ["PUT", "DELETE"]  # upload, and delete one's own upload
    assert rule["ExposedHeaders"] == ["ETag", "x-amz-version-id"]


def test_access_logs_are_delivered_by_s3_only_and_expire(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    properties = synthesized.resources[ids["access_logs"]]["Properties"]
    assert properties["LifecycleConfiguration"]["Rules"] == [
        {"ExpirationInDays": 90, "Id": "ExpireAccessLogs", "Status": "Enabled"}
    ]
    (delivery,) = [s for s in bucket_policy(synthesized, ids["access_logs"]) if s["Effect"] == "Allow"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Condition"]["ArnLike"] == {"aws:SourceArn": arn(ids["uploads"])}


def test_upload_rule_starts_the_state_machine_with_its_own_role_retries_and_dlq(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    rule = synthesized.resources[ids["upload_rule"]]["Properties"]
    assert rule["EventPattern"] == upload_event_pattern(ref(ids["uploads"]))  # type: ignore[arg-type]
    (target,) = rule["Targets"]
    assert target["Arn"] == ref(ids["state_machine"])
    assert target["RoleArn"] == arn(ids["upload_rule_role"])
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 6 * 3600, "MaximumRetryAttempts": 20}
    assert target["DeadLetterConfig"] == {"Arn": arn(ids["dlq"])}
    # Exactly the blueprint's fields: no source IP or requester in the execution input, logs or emails.
    assert "Input" not in target
    assert target["InputTransformer"] == upload_input_transformer()
    assert not {"sourceIPAddress", "requester", "source-ip-address"} & set(json.dumps(target).split('"'))
    assert trusted_services(synthesized, ids["upload_rule_role"]) == ["events.amazonaws.com"]
    expect_statements(
        synthesized, ids["upload_rule_role"], allow(["states:StartExecution"], [ref(ids["state_machine"])])
    )


def test_dead_letter_queue_is_encrypted_tls_only_and_fed_only_by_the_stacks_rules(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    queue = synthesized.resources[ids["dlq"]]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = synthesized.of_type("AWS::SQS::QueuePolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    deny, *allows = statements
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(json.dumps(s["Condition"]) for s in allows) == sorted(
        json.dumps({"ArnEquals": {"aws:SourceArn": arn(ids[rule])}})
        for rule in ("stopped_rule", "upload_rule", "delete_rule")
    )
    assert all(
        s["Action"] == "sqs:SendMessage" and s["Principal"] == {"Service": "events.amazonaws.com"}
        for s in allows
    )


# --- pipeline --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_function_settings_come_from_the_blueprint(
    synthesized: Synthesized, ids: dict[str, str], spec: FunctionSpec
) -> None:
    properties = synthesized.resources[function_id(synthesized, spec)]["Properties"]
    assert properties["Runtime"] == LAMBDA_RUNTIME
    assert properties["Architectures"] == ["arm64"]
    assert properties["Handler"] == spec.handler
    assert properties["Description"] == spec.description
    assert properties["MemorySize"] == spec.memory_mb
    assert properties["Timeout"] == spec.timeout_s
    assert properties["Environment"]["Variables"] == function_environment(
        ref(ids["table"]),  # type: ignore[arg-type]
        ref(ids["usage"]),  # type: ignore[arg-type]
        ref(ids["labels"]),  # type: ignore[arg-type]
        DEFAULT_QUOTA,
        **spec.environment,
    )
    # Every function, writer or not: the settings are shared, and a missing table name would quietly
    # turn the index off (labeler.wiring builds the repository without it).
    assert properties["Environment"]["Variables"]["LABELER_LABELS_TABLE"] == ref(ids["labels"])
    assert properties["Layers"] == [ref(ids["layer"])]
    assert properties["TracingConfig"] == {"Mode": "Active"}
    log_group = synthesized.resources[properties["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Properties"]["RetentionInDays"] == 30


def test_function_assets_hold_only_their_handler(synthesized: Synthesized) -> None:
    for spec in FUNCTIONS:
        code = synthesized.resources[function_id(synthesized, spec)]["Properties"]["Code"]
        asset = synthesized.outdir / f"asset.{code['S3Key'].removesuffix('.zip')}"
        assert sorted(path.name for path in asset.iterdir()) == ["handler.py"], spec.name


def test_the_layer_matches_the_functions(synthesized: Synthesized, ids: dict[str, str]) -> None:
    layer = synthesized.resources[ids["layer"]]["Properties"]
    assert layer["CompatibleRuntimes"] == [LAMBDA_RUNTIME]  # the runtime the local stack provisions too
    assert layer["CompatibleArchitectures"] == ["arm64"]


def _function_role(synthesized: Synthesized, name: str) -> str:
    return synthesized.logical_id(f"Pipeline/{name.capitalize()}Role/Resource")


def _log_write(synthesized: Synthesized, name: str) -> Statement:
    log_group = synthesized.logical_id(f"Pipeline/{name.capitalize()}Logs/Resource")
    return allow(["logs:CreateLogStream", "logs:PutLogEvents"], [arn(log_group)])


def _read_uploads(ids: dict[str, str]) -> Statement:
    return allow(
        ["s3:GetObject", "s3:GetObjectVersion"], [{"Fn::Join": ["", [arn(ids["uploads"]), "/uploads/*"]]}]
    )


_LIBRARY = {"Fn::Join": ["", ["arn:", ref("AWS::Partition"), ":s3:::example-photos"]]}
#: The session's library bucket (``libraryBucket``, ``libraryPrefix``): read under its prefix only.
READ_LIBRARY = allow(
    ["s3:GetObject", "s3:GetObjectVersion"],
    [{"Fn::Join": ["", ["arn:", ref("AWS::Partition"), ":s3:::example-photos/camera/*"]]}],
)
LIST_LIBRARY = allow(["s3:ListBucket"], [_LIBRARY], Condition={"StringLike": {"s3:prefix": ["camera/*"]}})


def write_label_index(ids: dict[str, str]) -> Statement:
    """An outcome's label index changes: the manifest's consistent GetItem, then one TransactWriteItems
    (Put/Delete/ConditionCheck of the manifest, Put and Delete of entries, Update of counts), each action
    with its own permission; on the table only, never its ByLabel index."""
    return allow(
        [
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "dynamodb:UpdateItem",
            "dynamodb:ConditionCheckItem",
        ],
        [arn(ids["labels"])],
    )


def test_validate_may_only_read_uploads_and_the_library(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    role = _function_role(synthesized, "validate")
    assert trusted_services(synthesized, role) == ["lambda.amazonaws.com"]
    # ListBucket so that a vanished upload is a 404 (OBJECT_GONE), not a 403; only under uploads/.
    list_uploads = allow(
        ["s3:ListBucket"], [arn(ids["uploads"])], Condition={"StringLike": {"s3:prefix": ["uploads/*"]}}
    )
    expect_statements(
        synthesized,
        role,
        _log_write(synthesized, "validate"),
        XRAY_WRITE,
        _read_uploads(ids),
        list_uploads,
        READ_LIBRARY,
        LIST_LIBRARY,
        allow(["dynamodb:PutItem"], [arn(ids["table"])]),  # progress records
        # Quota charge: TransactWriteItems of the version's charge item (Put) and two conditional updates.
        allow(["dynamodb:PutItem", "dynamodb:UpdateItem"], [arn(ids["usage"])]),
    )


def test_label_may_only_read_uploads_and_the_library_and_detect_labels(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    role = _function_role(synthesized, "label")
    assert trusted_services(synthesized, role) == ["lambda.amazonaws.com"]
    expect_statements(
        synthesized,
        role,
        _log_write(synthesized, "label"),
        XRAY_WRITE,
        _read_uploads(ids),
        READ_LIBRARY,
        allow(["rekognition:DetectLabels"], ["*"]),
    )


def test_store_may_only_put_items_and_write_the_label_index(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    role = _function_role(synthesized, "store")
    assert trusted_services(synthesized, role) == ["lambda.amazonaws.com"]
    expect_statements(
        synthesized,
        role,
        _log_write(synthesized, "store"),
        XRAY_WRITE,
        allow(["dynamodb:PutItem"], [arn(ids["table"])]),
        write_label_index(ids),
    )


def _names(statement: Statement, logical_id: str) -> bool:
    return f'"{logical_id}"' in json.dumps(statement["Resource"])


def test_only_the_outcome_writers_and_guests_may_use_the_label_index(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    """store and cleanup write outcomes (cleanup: DELETED tombstones); validate writes only PROCESSING
    records and backfill only PROCESSING claims, so neither has anything on the table; guests read."""
    using = {
        role_id: statements
        for role_id in synthesized.of_type("AWS::IAM::Role")
        if (statements := [s for s in role_statements(synthesized, role_id) if _names(s, ids["labels"])])
    }
    writers = {_function_role(synthesized, name): name for name in ("store", "cleanup")}
    assert set(using) == {*writers, ids["guest_role"]}
    for role_id in writers:
        assert using[role_id] == [write_label_index(ids)], role_id
    for name in ("validate", "label", "backfill"):
        assert _function_role(synthesized, name) not in using, name


def test_state_machine_is_standard_logged_traced(synthesized: Synthesized, ids: dict[str, str]) -> None:
    properties = synthesized.resources[ids["state_machine"]]["Properties"]
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"] == {
        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": arn(ids["state_machine_logs"])}}],
        "IncludeExecutionData": True,
        "Level": "ALL",
    }
    log_group = synthesized.resources[ids["state_machine_logs"]]["Properties"]
    assert log_group["RetentionInDays"] == 30
    assert render(log_group["LogGroupName"]) == "/aws/vendedlogs/states/<AWS::StackName>-pipeline"


def test_state_machine_definition_is_the_asl_file_inline_with_its_substitutions(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    properties = synthesized.resources[ids["state_machine"]]["Properties"]
    assert properties["DefinitionString"] == STATE_MACHINE_FILE.read_text()
    assert properties["DefinitionSubstitutions"] == {
        **{str(spec.placeholder): arn(function_id(synthesized, spec)) for spec in PIPELINE_FUNCTIONS},
        FAILURE_TOPIC_PLACEHOLDER: ref(ids["topic"]),
    }


def test_deployed_definition_equals_the_rendered_asl(synthesized: Synthesized) -> None:
    definition, arns = synthesized.deployed_definition()
    assert definition == render_definition(arns)


def test_every_task_has_retry_and_catch_and_the_execution_times_out(synthesized: Synthesized) -> None:
    definition = json.loads(synthesized.deployed_definition()[0])
    assert 0 < definition["TimeoutSeconds"] <= 900
    tasks = {name: state for name, state in definition["States"].items() if state["Type"] == "Task"}
    assert len(tasks) == 6
    for name, task in tasks.items():
        assert task["Retry"], name
        assert any("States.ALL" in catcher["ErrorEquals"] for catcher in task["Catch"]), name


def test_state_machine_role_is_exactly_invoke_publish_log_trace(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    role = ids["state_machine_role"]
    assert trusted_services(synthesized, role) == ["states.amazonaws.com"]
    expect_statements(
        synthesized,
        role,
        allow(
            ["lambda:InvokeFunction"], [arn(function_id(synthesized, spec)) for spec in PIPELINE_FUNCTIONS]
        ),
        allow(["sns:Publish"], [ref(ids["topic"])]),
        allow(["kms:Decrypt", "kms:GenerateDataKey*"], [arn(ids["key"])]),
        *STATE_MACHINE_LOGS_AND_TRACES,
    )


def test_timed_out_and_aborted_executions_notify_the_topic(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    rule = synthesized.resources[ids["stopped_rule"]]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["TIMED_OUT", "ABORTED"], "stateMachineArn": [ref(ids["state_machine"])]},
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == ref(ids["topic"])
    assert target["RoleArn"] == arn(ids["stopped_rule_role"])
    assert target["DeadLetterConfig"] == {"Arn": arn(ids["dlq"])}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 6 * 3600, "MaximumRetryAttempts": 20}
    message = target["InputTransformer"]
    assert set(message["InputPathsMap"].values()) >= {
        "$.detail.status",
        "$.detail.executionArn",
        "$.detail.input",
    }
    assert trusted_services(synthesized, ids["stopped_rule_role"]) == ["events.amazonaws.com"]
    expect_statements(
        synthesized,
        ids["stopped_rule_role"],
        allow(["sns:Publish"], [ref(ids["topic"])]),
        allow(["kms:Decrypt", "kms:GenerateDataKey*"], [arn(ids["key"])]),
    )


# --- storage ---------------------------------------------------------------------------------------------


def test_results_table(synthesized: Synthesized, ids: dict[str, str]) -> None:
    table = synthesized.resources[ids["table"]]
    properties = table["Properties"]
    assert table["DeletionPolicy"] == "Retain"
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["KeySchema"] == [
        {"AttributeName": RESULTS_TABLE.partition_key, "KeyType": "HASH"},
        {"AttributeName": RESULTS_TABLE.sort_key, "KeyType": "RANGE"},
    ]
    assert properties["LocalSecondaryIndexes"] == [
        {
            "IndexName": RESULTS_TABLE.by_time_index,
            "KeySchema": [
                {"AttributeName": RESULTS_TABLE.partition_key, "KeyType": "HASH"},
                {"AttributeName": RESULTS_TABLE.time_attribute, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert properties["GlobalSecondaryIndexes"] == [
        {
            "IndexName": RESULTS_TABLE.failures_index,
            "KeySchema": [
                {"AttributeName": RESULTS_TABLE.failures_partition_key, "KeyType": "HASH"},
                {"AttributeName": RESULTS_TABLE.failures_sort_key, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert {
        a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]
    } == dict.fromkeys(
        (
            RESULTS_TABLE.partition_key,
            RESULTS_TABLE.sort_key,
            RESULTS_TABLE.failures_partition_key,
            RESULTS_TABLE.failures_sort_key,
        ),
        "S",
    )


def test_labels_table(synthesized: Synthesized, ids: dict[str, str]) -> None:
    table = synthesized.resources[ids["labels"]]
    properties = table["Properties"]
    # Derived from the records (which the results table keeps): it goes with the stack.
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Delete"
    assert not properties.get("DeletionProtectionEnabled", False)
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}  # AWS managed key
    assert "TimeToLiveSpecification" not in properties
    assert "LocalSecondaryIndexes" not in properties
    assert properties["KeySchema"] == [
        {"AttributeName": "Partition", "KeyType": "HASH"},
        {"AttributeName": "Sort", "KeyType": "RANGE"},
    ]
    assert (LABEL_INDEX.partition_key, LABEL_INDEX.sort_key) == ("Partition", "Sort")
    assert properties["GlobalSecondaryIndexes"] == [
        {
            "IndexName": index.name,
            "KeySchema": [
                {"AttributeName": index.partition_key, "KeyType": "HASH"},
                {"AttributeName": index.sort_key, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
        for index in LABEL_INDEX.indexes
    ]
    assert [(index.name, index.partition_key, index.sort_key) for index in LABEL_INDEX.indexes] == [
        ("ByLabel", "Label", "Sort")
    ]
    assert sorted(
        (a["AttributeName"], a["AttributeType"]) for a in properties["AttributeDefinitions"]
    ) == sorted((name, "S") for name in LABEL_INDEX.key_attributes)


# --- notifications ---------------------------------------------------------------------------------------


def test_topic_is_encrypted_tls_only_and_mails_the_configured_address(
    synthesized: Synthesized, template: Template, ids: dict[str, str]
) -> None:
    assert synthesized.resources[ids["topic"]]["Properties"]["KmsMasterKeyId"] == arn(ids["key"])
    assert synthesized.resources[ids["key"]]["Properties"]["EnableKeyRotation"] is True
    (policy,) = synthesized.of_type("AWS::SNS::TopicPolicy").values()
    deny, alarms, budgets = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny == {
        "Action": "sns:Publish",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": "*",
        "Resource": ref(ids["topic"]),
        "Sid": "AllowPublishThroughSSLOnly",
    }
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"]["StringEquals"] == {"aws:SourceAccount": ref("AWS::AccountId")}
    assert budgets["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert budgets["Action"] == "sns:Publish" and budgets["Resource"] == ref(ids["topic"])
    assert budgets["Condition"]["StringEquals"] == {"aws:SourceAccount": ref("AWS::AccountId")}
    (subscription,) = synthesized.of_type("AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {
        "Protocol": "email",
        "Endpoint": CONTEXT["alertEmail"],
        "TopicArn": ref(ids["topic"]),
        # REJECTED records reach the topic but not the operator's mailbox.
        "FilterPolicy": EMAIL_FILTER_POLICY,
        "FilterPolicyScope": "MessageAttributes",
    }


def test_only_the_accounts_alarms_and_budgets_may_use_the_key_as_a_service(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    statements = synthesized.resources[ids["key"]]["Properties"]["KeyPolicy"]["Statement"]
    services = [s for s in statements if "Service" in s["Principal"]]
    assert [s["Principal"]["Service"] for s in services] == [
        "cloudwatch.amazonaws.com",
        "budgets.amazonaws.com",
    ]
    for service in services:
        assert service["Condition"]["StringEquals"] == {"aws:SourceAccount": ref("AWS::AccountId")}
        assert service["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]


# --- identity --------------------------------------------------------------------------------------------


def test_identity_pool_allows_guests_through_the_enhanced_flow_only(
    synthesized: Synthesized, template: Template, ids: dict[str, str]
) -> None:
    pool = synthesized.resources[ids["pool"]]["Properties"]
    assert pool["AllowUnauthenticatedIdentities"] is True
    assert pool["AllowClassicFlow"] is False
    template.has_resource_properties(
        "AWS::Cognito::IdentityPoolRoleAttachment",
        {"IdentityPoolId": ref(ids["pool"]), "Roles": {"unauthenticated": arn(ids["guest_role"])}},
    )
    template.resource_count_is("AWS::Cognito::IdentityPoolRoleAttachment", 1)


def test_guest_role_is_assumable_only_by_this_pools_guests(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    (trust,) = synthesized.resources[ids["guest_role"]]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {"cognito-identity.amazonaws.com:aud": ref(ids["pool"])},
            "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"},
        },
        "Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
    }


def test_guest_may_only_upload_under_and_read_its_own_identity(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    identity = "${cognito-identity.amazonaws.com:sub}"
    own = [{"Fn::Join": ["", [arn(ids["uploads"]), f"/uploads/{identity}/*"]]}]
    expect_statements(
        synthesized,
        ids["guest_role"],
        allow(
            ["s3:PutObject"],
            own,
            # STANDARD only (no archive classes), no SSE-C, and no SSE header other than SSE-S3.
            Condition={
                "StringEqualsIfExists": {
                    "s3:x-amz-storage-class": "STANDARD",
                    "s3:x-amz-server-side-encryption": "AES256",
                },
                "Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "true"},
            },
        ),
        # DeleteObject (a delete marker) under its own prefix only; never DeleteObjectVersion.
        allow(["s3:DeleteObject"], own),
        allow(
            ["dynamodb:GetItem", "dynamodb:Query"],
            [
                arn(ids["table"]),
                {"Fn::Join": ["", [arn(ids["table"]), f"/index/{RESULTS_TABLE.by_time_index}"]]},
            ],
            Condition={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [identity]}},
        ),
        # Its own label index partitions ("<identity id>#..."), read-only, on the table only: never the
        # ByLabel index, which spans every owner.
        allow(
            ["dynamodb:GetItem", "dynamodb:Query"],
            [arn(ids["labels"])],
            Condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{identity}#*"]}},
        ),
    )
    labels_index = f"/index/{LABEL_INDEX.by_label_index}"
    for statement in role_statements(synthesized, ids["guest_role"]):
        assert labels_index not in json.dumps(statement["Resource"]), statement


# --- web -------------------------------------------------------------------------------------------------


def test_site_bucket_is_readable_only_by_this_distribution(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    (read,) = [s for s in bucket_policy(synthesized, ids["site"]) if s["Effect"] == "Allow"]
    assert read["Action"] == "s3:GetObject"
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert render(read["Condition"]["StringEquals"]["AWS:SourceArn"]).endswith(
        f":distribution/<{ids['distribution']}>"
    )


def test_distribution_is_https_with_origin_access_control(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    config = synthesized.resources[ids["distribution"]]["Properties"]["DistributionConfig"]
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["ResponseHeadersPolicyId"] == ref(ids["headers"])
    assert config["DefaultRootObject"] == "index.html"
    (origin,) = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": [ids["site"], "RegionalDomainName"]}
    assert "OriginAccessControlId" in origin
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_security_headers(synthesized: Synthesized, ids: dict[str, str]) -> None:
    headers = synthesized.resources[ids["headers"]]["Properties"]["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": 730 * 24 * 3600,
        "IncludeSubdomains": True,
        "Override": True,
        "Preload": True,
    }
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    csp = dict(
        directive.split(" ", 1)
        for directive in render(security["ContentSecurityPolicy"]["ContentSecurityPolicy"]).split("; ")
        if " " in directive
    )
    assert csp["default-src"] == "'self'"
    assert csp["object-src"] == csp["base-uri"] == csp["frame-ancestors"] == "'none'"
    region = "<AWS::Region>.<AWS::URLSuffix>"
    assert csp["connect-src"].split() == [
        "'self'",
        f"https://cognito-identity.{region}",
        f"https://dynamodb.{region}",
        f"https://{UPLOAD_BUCKET}.s3.{region}",
    ]
    assert "unsafe" not in json.dumps(security["ContentSecurityPolicy"])
    assert "script-src" not in csp  # default-src 'self': no inline or third-party scripts


def test_site_deployment_writes_config_json_from_the_stack(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    (deployment,) = synthesized.of_type("Custom::CDKBucketDeployment").values()
    properties = deployment["Properties"]
    assert properties["DestinationBucketName"] == ref(ids["site"])
    assert properties["DistributionId"] == ref(ids["distribution"])
    assert properties["Prune"] is True and properties["RetainOnDelete"] is False
    site, config = properties["SourceMarkers"]
    assert site == {}
    (config_dir,) = [path.parent for path in synthesized.outdir.glob("asset.*/config.json")]
    text = (config_dir / "config.json").read_text()
    for marker, value in config.items():
        text = text.replace(marker, render(value))
    assert json.loads(text) == {
        "region": "<AWS::Region>",
        "identityPoolId": f"<{ids['pool']}>",
        "uploadBucket": f"<{ids['uploads']}>",
        "uploadPrefix": "uploads/",
        "resultsTable": f"<{ids['table']}>",
        "labelsTable": f"<{ids['labels']}>",
        "maxUploadBytes": 15 * 1024 * 1024,
        "table": {"partitionKey": "Owner", "sortKey": "ImageName", "byTimeIndex": "OwnerByTime"},
        "labelIndex": {
            "partitionKey": "Partition",
            "sortKey": "Sort",
            "entriesInfix": "#label#",
            "countsSuffix": "#counts",
            "countAttribute": "Images",
        },
        "local": False,
    }


def test_deployment_role_writes_only_the_site_bucket(synthesized: Synthesized, ids: dict[str, str]) -> None:
    role = synthesized.logical_id("Web/DeploymentRole/Resource")
    writes = [
        statement
        for statement in role_statements(synthesized, role)
        if any(action.startswith(("s3:Put", "s3:Delete")) for action in statement["Action"])
    ]
    assert writes
    site_objects = {"Fn::Join": ["", [arn(ids["site"]), "/*"]]}
    assert all(
        statement["Resource"] == sorted([arn(ids["site"]), site_objects], key=json.dumps)
        for statement in writes
    )


# --- monitoring ------------------------------------------------------------------------------------------


def test_alarms_publish_to_the_topic(synthesized: Synthesized, ids: dict[str, str]) -> None:
    alarms = synthesized.of_type("AWS::CloudWatch::Alarm").values()
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [ref(ids["topic"])]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"
    metrics = {alarm["Properties"].get("MetricName") for alarm in alarms}
    assert metrics == {
        "ImagesFailed",
        "ImagesValidated",
        "ExecutionsTimedOut",
        "Throttles",
        "ApproximateNumberOfMessagesVisible",
        "LabelLatency",
        None,  # the Lambda-errors-minus-rejections math expression
    }


def test_lambda_errors_alarm_excludes_rejections_and_failed_backfill_items(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Metrics": Match.array_with(
                [
                    Match.object_like(
                        {
                            "Expression": " + ".join(f"FILL(errors_{s.name}, 0)" for s in FUNCTIONS)
                            + " - FILL(rejected, 0) - FILL(backfill_items_failed, 0)"
                        }
                    )
                ]
            ),
            "Threshold": 5,
        },
    )


def test_label_latency_alarm_is_on_p90_for_15_minutes(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "LabelLatency",
            "Namespace": "ImageLabeler",
            "Dimensions": [{"Name": "service", "Value": "image-labeler"}],
            "ExtendedStatistic": "p90",
            "Period": 300,
            "EvaluationPeriods": 3,
            "Threshold": 5000,
        },
    )


def test_dashboard_shows_images_executions_functions_and_alarms(synthesized: Synthesized) -> None:
    (dashboard,) = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    body = render(dashboard["Properties"]["DashboardBody"])
    for title in ("Images", "Executions", "Lambda errors and throttles", "Label latency (ms)", "Alarms"):
        assert f'"title":"{title}"' in body
