"""checkov (pinned, requirements-checkov.txt) on the session's synthesized template: no unskipped finding.

Every accepted finding is skipped in .checkov.yaml with its reason. ``make test`` installs checkov into
.venv-checkov first; without it (a bare ``pytest``) this test is skipped, never passed silently.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from labeler.blueprint import REPO_ROOT

from .conftest import Synthesized

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
CONFIG = REPO_ROOT / ".checkov.yaml"


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov is not installed: make checkov")
def test_checkov_finds_nothing_unacknowledged(synthesized: Synthesized) -> None:
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [str(CHECKOV), "--config-file", str(CONFIG), "-f", str(synthesized.template_file), "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    report = json.loads(result.stdout)
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"]
    ]
    assert failed == [], "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 100  # it really scanned the stack
    assert result.returncode == 0, result.stderr
