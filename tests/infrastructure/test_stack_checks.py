"""Offline checks of the synthesized stack: cdk-nag (AwsSolutions), cfn-lint, statelint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import Synthesized

#: cfn-lint's "DependsOn is redundant" warning: CDK adds explicit dependencies on IAM policies on purpose.
CFN_LINT_IGNORED = ["W3005"]


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    assert path, f"{name} is installed with the dev extra"
    return path


def _plugin_reports(synthesized: Synthesized) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = synthesized.validation_report.get("pluginReports", [])
    assert [report["pluginName"] for report in reports] == ["AwsSolutions"]
    return reports


def test_cdk_nag_has_no_unacknowledged_findings(synthesized: Synthesized) -> None:
    findings = [
        f"{violation['ruleName']} at {construct['constructPath']}: {violation['description']}"
        for report in _plugin_reports(synthesized)
        for violation in report.get("violations", [])
        for construct in violation["violatingConstructs"]
    ]
    assert findings == []
    assert synthesized.synth_error is None


def test_every_acknowledgement_matches_a_finding_and_gives_a_reason(synthesized: Synthesized) -> None:
    metadata = json.loads((synthesized.outdir / f"{synthesized.stack_name}.metadata.json").read_text())
    acknowledged = {
        (path.lstrip("/"), rule_id): reason
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule_id, reason in entry["data"].items()
    }
    suppressed = {
        (violation["acknowledgedAt"], violation["acknowledgedId"])
        for report in _plugin_reports(synthesized)
        for violation in report.get("suppressedViolations", [])
    }
    assert set(acknowledged) == suppressed, (
        "an acknowledgement in cdk/image_labeler_stack/nag.py matches nothing"
    )
    for key, reason in acknowledged.items():
        assert len(reason) >= 60, key


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our own tools


def test_cfn_lint_accepts_the_template(synthesized: Synthesized) -> None:
    ignored = [arg for check in CFN_LINT_IGNORED for arg in ("--ignore-checks", check)]
    result = _run(_tool("cfn-lint"), "--format", "parseable", *ignored, "--", str(synthesized.template_file))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("machine", ["Pipeline/StateMachine/Resource", "Backfill/StateMachine/Resource"])
def test_statelint_accepts_the_deployed_definitions(
    synthesized: Synthesized, tmp_path: Path, machine: str
) -> None:
    definition = tmp_path / "deployed.asl.json"
    definition.write_text(synthesized.deployed_definition(machine)[0])
    result = _run(_tool("statelint"), str(definition))
    assert result.returncode == 0, result.stdout + result.stderr
