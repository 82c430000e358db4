"""One synthesis of the CDK app per test session, offline: no bundling, no Docker, no AWS credentials."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Before aws_cdk starts its Node process: Node 20 is supported by jsii but warned about.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

#: Context of the session's deployment: the optional settings on, so their resources are tested too.
CONTEXT = {
    "alertEmail": "ops@example.com",
    "devOrigin": "http://localhost:5173",
    "libraryBucket": "example-photos",
    "libraryPrefix": "camera/",
    # Skip asset bundling (the pip download of the layer) for every stack.
    "aws:cdk:bundling-stacks": [],
    # Construct paths in the template's metadata (the CDK CLI adds them too), to find resources by path.
    "aws:cdk:enable-path-metadata": True,
}


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    stack_name: str
    template: dict[str, Any]
    #: cdk-nag's findings (policy validation report), acknowledged or not.
    validation_report: dict[str, Any]
    #: What synth raised (cdk-nag fails synthesis on unacknowledged findings), or None.
    synth_error: str | None

    @property
    def template_file(self) -> Path:
        return self.outdir / f"{self.stack_name}.template.json"

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]  # type: ignore[no-any-return]

    def logical_id(self, path: str) -> str:
        """The logical id of the resource at construct path ``<stack>/<path>``."""
        full = f"{self.stack_name}/{path}"
        (found,) = [
            logical_id
            for logical_id, resource in self.resources.items()
            if resource.get("Metadata", {}).get("aws:cdk:path") == full
        ]
        return found

    def deployed_definition(self, path: str = "Pipeline/StateMachine/Resource") -> tuple[str, dict[str, str]]:
        """A state machine's definition as Step Functions gets it (stand-in ARNs), and those ARNs."""
        machine = self.resources[self.logical_id(path)]
        stand_ins = {
            "AWS::SNS::Topic": "arn:aws:sns:us-east-1:123456789012:{}",
            "AWS::StepFunctions::StateMachine": "arn:aws:states:us-east-1:123456789012:stateMachine:{}",
            "AWS::S3::Bucket": "{}",  # a bucket's Ref is its name
        }
        arns = {
            name: f"arn:aws:lambda:us-east-1:123456789012:function:{value['Fn::GetAtt'][0]}"
            if "Fn::GetAtt" in value
            else stand_ins[self.resources[value["Ref"]]["Type"]].format(value["Ref"])
            for name, value in machine["Properties"]["DefinitionSubstitutions"].items()
        }
        definition = re.sub(
            r"\$\{(\w+)\}", lambda match: arns[match[1]], machine["Properties"]["DefinitionString"]
        )
        return definition, arns

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {key: value for key, value in self.resources.items() if value["Type"] == resource_type}


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    from cdk.app import build_app  # imported here: after the environment above is set

    outdir = tmp_path_factory.mktemp("cdk.out")
    # cfn-lint checks the template instead of CDK's slower built-in CloudFormation validation.
    app, stack = build_app(CONTEXT, outdir=str(outdir), cloudformation_validation=False)
    try:
        app.synth()
        synth_error = None
    except RuntimeError as error:  # ValidationFailed: the template is still written
        synth_error = str(error)
    template_file = outdir / f"{stack.stack_name}.template.json"
    report_file = outdir / "validation-report.json"
    return Synthesized(
        outdir=outdir,
        stack_name=stack.stack_name,
        template=json.loads(template_file.read_text()),
        validation_report=json.loads(report_file.read_text()) if report_file.exists() else {},
        synth_error=synth_error,
    )


@pytest.fixture(scope="session")
def ids(synthesized: Synthesized) -> dict[str, str]:
    """Logical ids of the stack's main resources."""
    paths = {
        "uploads": "Ingest/Uploads/Resource",
        "access_logs": "Ingest/AccessLogs/Resource",
        "dlq": "Ingest/UndeliveredEvents/Resource",
        "upload_rule": "Ingest/UploadCreated/Resource",
        "upload_rule_role": "Ingest/StartPipelineRole/Resource",
        "table": "Storage/Results/Resource",
        "usage": "Storage/Usage/Resource",
        "labels": "Storage/Labels/Resource",
        "delete_rule": "Ingest/UploadDeleted/Resource",
        "budget": "Monitoring/MonthlyCost",
        "topic": "Notifications/Failures/Resource",
        "key": "Notifications/TopicKey/Resource",
        "state_machine": "Pipeline/StateMachine/Resource",
        "state_machine_role": "Pipeline/StateMachine/Role/Resource",
        "state_machine_logs": "Pipeline/StateMachineLogs/Resource",
        "backfill": "Backfill/StateMachine/Resource",
        "backfill_role": "Backfill/StateMachine/Role/Resource",
        "backfill_logs": "Backfill/Logs/Resource",
        "layer": "Pipeline/RuntimeLayer/Resource",
        "stopped_rule": "Pipeline/ExecutionStopped/Resource",
        "stopped_rule_role": "Pipeline/NotifyStoppedRole/Resource",
        "pool": "Identity/Pool",
        "guest_role": "Identity/GuestRole/Resource",
        "site": "Web/Site/Resource",
        "distribution": "Web/Distribution/Resource",
        "headers": "Web/SecurityHeaders/Resource",
    }
    return {name: synthesized.logical_id(path) for name, path in paths.items()}
