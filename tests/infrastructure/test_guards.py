"""The stack's guards on the bill and the data (issue 14): quotas' table, abuse limits, deletion."""

from __future__ import annotations

from typing import Any

import pytest

from cdk import preflight
from cdk.image_labeler_stack.stack import StackConfig
from labeler.blueprint import (
    FUNCTIONS_BY_NAME,
    RESULTS_TABLE,
    USAGE_TABLE,
    QuotaSpec,
    deletion_event_pattern,
)

from .conftest import CONTEXT, Synthesized
from .test_stack import (
    allow,
    arn,
    bucket_policy,
    expect_statements,
    function_id,
    ref,
    render,
    write_label_index,
)


def _role(synthesized: Synthesized, name: str) -> str:
    return synthesized.logical_id(f"Pipeline/{name.capitalize()}Role/Resource")


# --- storage ---------------------------------------------------------------------------------------------


def test_usage_table_holds_expiring_counters(synthesized: Synthesized, ids: dict[str, str]) -> None:
    table = synthesized.resources[ids["usage"]]
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": USAGE_TABLE.partition_key, "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": "Counter", "AttributeType": "S"}]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "ExpiresAt", "Enabled": True}
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"] == {"SSEEnabled": True}  # AWS managed key
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_results_table_is_protected_and_expires_tombstones(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    properties = synthesized.resources[ids["table"]]["Properties"]
    assert properties["DeletionProtectionEnabled"] is True
    assert properties["TimeToLiveSpecification"] == {
        "AttributeName": RESULTS_TABLE.expires_attribute,
        "Enabled": True,
    }


# --- pipeline --------------------------------------------------------------------------------------------


def test_label_function_reserves_the_rekognition_tps_and_only_it(synthesized: Synthesized) -> None:
    reserved = {
        name: synthesized.resources[function_id(synthesized, spec)]["Properties"].get(
            "ReservedConcurrentExecutions"
        )
        for name, spec in FUNCTIONS_BY_NAME.items()
    }
    assert reserved == {"validate": None, "label": 5, "store": None, "cleanup": None, "backfill": None}


def test_every_function_gets_the_usage_table_and_the_quota(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    for spec in FUNCTIONS_BY_NAME.values():
        variables = synthesized.resources[function_id(synthesized, spec)]["Properties"]["Environment"][
            "Variables"
        ]
        assert variables["LABELER_USAGE_TABLE"] == ref(ids["usage"])
        assert variables["LABELER_QUOTA_PER_OWNER_PER_DAY"] == "25"
        assert variables["LABELER_QUOTA_EXEMPT_OWNERS"] == '["cli"]'


def test_cleanup_may_only_list_and_delete_upload_versions_put_records_and_write_the_label_index(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    log_group = synthesized.logical_id("Pipeline/CleanupLogs/Resource")
    expect_statements(
        synthesized,
        _role(synthesized, "cleanup"),
        allow(["logs:CreateLogStream", "logs:PutLogEvents"], [arn(log_group)]),
        allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
        allow(
            ["s3:ListBucketVersions"],
            [arn(ids["uploads"])],
            Condition={"StringLike": {"s3:prefix": ["uploads/*"]}},
        ),
        allow(["s3:DeleteObjectVersion"], [{"Fn::Join": ["", [arn(ids["uploads"]), "/uploads/*"]]}]),
        allow(["dynamodb:PutItem"], [arn(ids["table"])]),
        # A DELETED tombstone takes the image out of the label index in the same transaction.
        write_label_index(ids),
    )


def test_deletions_invoke_cleanup_with_retries_and_dlq(synthesized: Synthesized, ids: dict[str, str]) -> None:
    rule = synthesized.resources[ids["delete_rule"]]["Properties"]
    assert rule["EventPattern"] == deletion_event_pattern(ref(ids["uploads"]))  # type: ignore[arg-type]
    (target,) = rule["Targets"]
    cleanup = function_id(synthesized, FUNCTIONS_BY_NAME["cleanup"])
    assert target["Arn"] == arn(cleanup)
    assert target["DeadLetterConfig"] == {"Arn": arn(ids["dlq"])}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 6 * 3600, "MaximumRetryAttempts": 20}
    # Only this rule may invoke it; the state machine may not (it is no pipeline step).
    (permission,) = synthesized.of_type("AWS::Lambda::Permission").values()
    assert permission["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": arn(cleanup),
        "Principal": "events.amazonaws.com",
        "SourceArn": arn(ids["delete_rule"]),
    }


@pytest.mark.parametrize(
    ("role", "rule", "name"),
    [
        ("upload_rule_role", "upload_rule", "upload-created"),
        ("stopped_rule_role", "stopped_rule", "execution-stopped"),
    ],
)
def test_eventbridge_roles_trust_only_their_own_rule(
    synthesized: Synthesized, ids: dict[str, str], role: str, rule: str, name: str
) -> None:
    assert synthesized.resources[ids[rule]]["Properties"]["Name"] == f"ImageLabeler-{name}"
    (trust,) = synthesized.resources[ids[role]]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    conditions = trust["Condition"]["StringEquals"]
    assert conditions["aws:SourceAccount"] == ref("AWS::AccountId")
    assert (
        render(conditions["aws:SourceArn"])
        == f"arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/ImageLabeler-{name}"
    )


# --- ingest ----------------------------------------------------------------------------------------------


def test_upload_bucket_blocks_sse_c(synthesized: Synthesized, ids: dict[str, str]) -> None:
    encryption = synthesized.resources[ids["uploads"]]["Properties"]["BucketEncryption"]
    (rule,) = encryption["ServerSideEncryptionConfiguration"]
    assert rule["BlockedEncryptionTypes"] == {"EncryptionType": ["SSE-C"]}
    assert all(s["Effect"] == "Deny" for s in bucket_policy(synthesized, ids["uploads"]))


# --- monitoring ------------------------------------------------------------------------------------------


def test_hourly_volume_alarm(synthesized: Synthesized, ids: dict[str, str]) -> None:
    alarm = synthesized.resources[synthesized.logical_id("Monitoring/HourlyImages/Resource")]["Properties"]
    assert {key: alarm[key] for key in ("MetricName", "Namespace", "Statistic", "Period", "Threshold")} == {
        "MetricName": "ImagesValidated",
        "Namespace": "ImageLabeler",
        "Statistic": "Sum",
        "Period": 3600,
        "Threshold": 200,
    }
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"] == [ref(ids["topic"])]


def test_monthly_budget_notifies_the_topic_and_the_email(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    budget = synthesized.resources[ids["budget"]]
    properties = budget["Properties"]
    assert properties["Budget"] == {
        "BudgetLimit": {"Amount": 20, "Unit": "USD"},
        "BudgetType": "COST",
        "TimeUnit": "MONTHLY",
    }
    subscribers = [
        {"Address": ref(ids["topic"]), "SubscriptionType": "SNS"},
        {"Address": CONTEXT["alertEmail"], "SubscriptionType": "EMAIL"},
    ]
    assert [
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"], n["Subscribers"])
        for n in properties["NotificationsWithSubscribers"]
    ] == [("ACTUAL", 80, subscribers), ("FORECASTED", 100, subscribers)]
    # Budgets checks its publish permission when created: the topic policy must exist first.
    assert synthesized.logical_id("Notifications/Failures/Policy/Resource") in budget["DependsOn"]


# --- settings --------------------------------------------------------------------------------------------


def _config(**context: Any) -> StackConfig:
    from aws_cdk import App

    return StackConfig.from_context(App(context=context).node)


def test_quota_settings_reach_the_quota_spec() -> None:
    config = _config(quotaPerIdentity="3", quotaGlobal="40", quotaExemptOwners="cli, ops")
    assert config.quota == QuotaSpec(per_owner_per_day=3, global_per_day=40, exempt_owners=("cli", "ops"))
    assert _config().quota == QuotaSpec()
    assert _config(quotaExemptOwners="").quota.exempt_owners == ("cli",)


def test_guard_settings_default_and_parse() -> None:
    config = _config(rekognitionTps="0", hourlyImagesAlarm="50", monthlyBudgetUsd="7")
    assert (config.rekognition_tps, config.hourly_images_alarm, config.monthly_budget_usd) == (0, 50, 7)
    default = _config()
    assert (default.rekognition_tps, default.hourly_images_alarm, default.monthly_budget_usd) == (5, 200, 20)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"quotaPerIdentity": "-1"}, "quotaPerIdentity"),
        ({"quotaGlobal": "lots"}, "quotaGlobal"),
        ({"rekognitionTps": "2.5"}, "rekognitionTps"),
        ({"hourlyImagesAlarm": "0"}, "hourlyImagesAlarm"),
        ({"monthlyBudgetUsd": "0"}, "monthlyBudgetUsd"),
        ({"quotaExemptOwners": "cli,us-east-1:4f1c"}, "Cognito identity id"),
        ({"quotaExemptOwners": "a/b"}, "quotaExemptOwners"),
    ],
)
def test_invalid_guard_settings_fail_with_the_settings_name(context: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _config(**context)


# --- deploy preflight ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "unreserved", "current", "deployed"),
    [
        (5, 1000, 0, 5),  # an ordinary account
        (5, 15, 0, 5),  # exactly 10 left
        (5, 10, 0, 0),  # a new account (limit 10): no reservation
        (5, 14, 0, 0),
        (5, 10, 5, 5),  # a redeploy: the function's own reservation is freed first
        (0, 10, 0, 0),
    ],
)
def test_preflight_keeps_ten_unreserved(requested: int, unreserved: int, current: int, deployed: int) -> None:
    decision = preflight.decide(requested, unreserved, current)
    assert decision.tps == deployed
    assert (decision.message is not None) == (deployed != requested)


class _Lambda:
    def __init__(self, unreserved: int, reserved: dict[str, int]) -> None:
        self.unreserved, self.reserved = unreserved, reserved

    def get_account_settings(self) -> dict[str, Any]:
        return {
            "AccountLimit": {"ConcurrentExecutions": 10, "UnreservedConcurrentExecutions": self.unreserved}
        }

    def get_function_concurrency(self, FunctionName: str) -> dict[str, Any]:
        return (
            {"ReservedConcurrentExecutions": self.reserved[FunctionName]}
            if FunctionName in self.reserved
            else {}
        )


class _CloudFormation:
    def __init__(self, resources: list[dict[str, str]] | None) -> None:
        self.resources = resources

    def describe_stack_resources(self, StackName: str) -> dict[str, Any]:
        if self.resources is None:
            raise RuntimeError(f"Stack with id {StackName} does not exist")
        return {"StackResources": self.resources}


def test_preflight_reads_the_account_and_the_deployed_reservation(capsys: pytest.CaptureFixture[str]) -> None:
    new_account = preflight.check(_Lambda(10, {}), _CloudFormation(None), "ImageLabeler", 5)
    assert new_account.tps == 0 and new_account.message and "leave 5 unreserved" in new_account.message
    function = {"ResourceType": "AWS::Lambda::Function"}
    deployed = [
        {**function, "LogicalResourceId": "PipelineLabelFunction4A6D", "PhysicalResourceId": "lbl"},
        {**function, "LogicalResourceId": "PipelineStoreFunction1", "PhysicalResourceId": "st"},
    ]
    assert preflight.check(_Lambda(10, {"lbl": 5}), _CloudFormation(deployed), "ImageLabeler", 5).tps == 5
