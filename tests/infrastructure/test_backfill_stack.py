"""The backfill workflow as synthesized: its ASL with its substitutions, and exactly the permissions of
its state machine and of its plan function."""

from __future__ import annotations

import json
from typing import Any

from labeler.blueprint import (
    BACKFILL_STATE_MACHINE_FILE,
    FUNCTIONS_BY_NAME,
    PIPELINE_STATE_MACHINE_PLACEHOLDER,
    RUN_RESULTS_BUCKET_PLACEHOLDER,
    render_definition,
)

from .conftest import Synthesized
from .test_stack import (
    LIST_LIBRARY,
    READ_LIBRARY,
    STATE_MACHINE_LOGS_AND_TRACES,
    XRAY_WRITE,
    allow,
    arn,
    expect_statements,
    function_id,
    ref,
    trusted_services,
)

UPLOADS_ONLY = {"StringLike": {"s3:prefix": ["uploads/*"]}}


def _pipeline_executions(ids: dict[str, str]) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                ref("AWS::Partition"),
                ":states:",
                ref("AWS::Region"),
                ":",
                ref("AWS::AccountId"),
                ":execution:",
                {"Fn::GetAtt": [ids["state_machine"], "Name"]},
                ":*",
            ],
        ]
    }


def test_the_definition_is_the_asl_file_with_the_plan_function_and_the_pipeline(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    properties = synthesized.resources[ids["backfill"]]["Properties"]
    backfill = FUNCTIONS_BY_NAME["backfill"]
    assert properties["DefinitionString"] == BACKFILL_STATE_MACHINE_FILE.read_text()
    assert properties["DefinitionSubstitutions"] == {
        str(backfill.placeholder): arn(function_id(synthesized, backfill)),
        PIPELINE_STATE_MACHINE_PLACEHOLDER: ref(ids["state_machine"]),
        RUN_RESULTS_BUCKET_PLACEHOLDER: ref(ids["uploads"]),
    }
    definition, arns = synthesized.deployed_definition("Backfill/StateMachine/Resource")
    assert definition == render_definition(arns, BACKFILL_STATE_MACHINE_FILE)
    assert properties["StateMachineName"] == "ImageLabeler-backfill"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert (
        json.loads(definition)["States"]["Objects"]["ItemProcessor"]["ProcessorConfig"]["Mode"]
        == "DISTRIBUTED"
    )


def test_the_state_machine_may_run_the_pipeline_and_its_own_map_runs_and_nothing_else(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    role = ids["backfill_role"]
    assert trusted_services(synthesized, role) == ["states.amazonaws.com"]
    states = ["arn:", ref("AWS::Partition"), ":states:", ref("AWS::Region"), ":", ref("AWS::AccountId")]
    events_rule = {
        "Fn::Join": [
            "",
            [
                "arn:",
                ref("AWS::Partition"),
                ":events:",
                ref("AWS::Region"),
                ":",
                ref("AWS::AccountId"),
                ":rule/StepFunctionsGetEventsForStepFunctionsExecutionRule",
            ],
        ]
    }
    expect_statements(
        synthesized,
        role,
        allow(["lambda:InvokeFunction"], [arn(function_id(synthesized, FUNCTIONS_BY_NAME["backfill"]))]),
        allow(["states:StartExecution"], [ref(ids["state_machine"])]),
        allow(["states:DescribeExecution", "states:StopExecution"], [_pipeline_executions(ids)]),
        allow(["events:DescribeRule", "events:PutRule", "events:PutTargets"], [events_rule]),
        allow(["s3:ListBucket"], [arn(ids["uploads"])], Condition=UPLOADS_ONLY),
        allow(
            ["states:StartExecution"], [{"Fn::Join": ["", [*states, ":stateMachine:ImageLabeler-backfill"]]}]
        ),
        allow(
            ["states:DescribeExecution", "states:RedriveExecution", "states:StopExecution"],
            [{"Fn::Join": ["", [*states, ":execution:ImageLabeler-backfill/*"]]}],
        ),
        LIST_LIBRARY,
        allow(
            ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
            [{"Fn::Join": ["", [arn(ids["uploads"]), "/backfill-runs/*"]]}],
        ),
        *STATE_MACHINE_LOGS_AND_TRACES,
    )


def test_the_plan_function_may_head_uploads_claim_records_and_ask_about_pipeline_executions(
    synthesized: Synthesized, ids: dict[str, str]
) -> None:
    role = synthesized.logical_id("Pipeline/BackfillRole/Resource")
    log_group = synthesized.logical_id("Pipeline/BackfillLogs/Resource")
    expect_statements(
        synthesized,
        role,
        allow(["logs:CreateLogStream", "logs:PutLogEvents"], [arn(log_group)]),
        XRAY_WRITE,
        allow(["s3:GetObject"], [{"Fn::Join": ["", [arn(ids["uploads"]), "/uploads/*"]]}]),
        allow(["s3:ListBucket"], [arn(ids["uploads"])], Condition=UPLOADS_ONLY),
        allow(["dynamodb:GetItem", "dynamodb:PutItem"], [arn(ids["table"])]),
        allow(["states:DescribeExecution"], [_pipeline_executions(ids)]),
        READ_LIBRARY,
        LIST_LIBRARY,
    )


def test_the_plan_function_labels_with_the_label_functions_settings(synthesized: Synthesized) -> None:
    def variables(name: str) -> dict[str, Any]:
        function = synthesized.resources[function_id(synthesized, FUNCTIONS_BY_NAME[name])]
        return {
            key: value
            for key, value in function["Properties"]["Environment"]["Variables"].items()
            if key.startswith("LABELER_") and "TABLE" not in key
        }

    assert variables("backfill") == variables("label")
