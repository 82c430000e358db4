"""The ASL file: lint, substitutions, and the retry/catch policy every task must have."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from labeler.blueprint import (
    FAILURE_TOPIC_PLACEHOLDER,
    PIPELINE_FUNCTIONS,
    PIPELINE_TIMEOUT_SECONDS,
    STATE_MACHINE_FILE,
    definition_placeholders,
    render_definition,
)
from labeler.errors import ImageRejected, LabelServiceThrottled, StorageThrottled

DEFINITION: dict[str, Any] = json.loads(STATE_MACHINE_FILE.read_text())
TASKS = {name: state for name, state in DEFINITION["States"].items() if state["Type"] == "Task"}


def test_statelint_accepts_the_definition() -> None:
    statelint = shutil.which("statelint", path=str(Path(sys.executable).parent))
    assert statelint, "statelint is installed with the dev extra"
    result = subprocess.run([statelint, str(STATE_MACHINE_FILE)], capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_execution_timeout_is_the_one_records_claims_last() -> None:
    """A PROCESSING claim expires when its execution can no longer be running (labeler.pipeline)."""
    assert DEFINITION["TimeoutSeconds"] == PIPELINE_TIMEOUT_SECONDS


def test_placeholders_are_exactly_the_functions_and_the_topic() -> None:
    assert definition_placeholders() == {spec.placeholder for spec in PIPELINE_FUNCTIONS} | {
        FAILURE_TOPIC_PLACEHOLDER
    }


def test_render_refuses_missing_or_unknown_substitutions() -> None:
    with pytest.raises(ValueError, match="missing"):
        render_definition({})
    names = {name: f"arn:{name}" for name in definition_placeholders()}
    with pytest.raises(ValueError, match="unknown"):
        render_definition({**names, "Extra": "x"})
    assert "${" not in render_definition(names)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_has_a_timeout_retries_and_a_catch(name: str) -> None:
    task = TASKS[name]
    assert task["TimeoutSeconds"] > 0
    assert task["Retry"]
    assert any("States.ALL" in catcher["ErrorEquals"] for catcher in task["Catch"])
    for retrier in task["Retry"]:
        assert retrier["BackoffRate"] >= 1
        assert retrier["IntervalSeconds"] >= 1


@pytest.mark.parametrize("name", ["Validate", "Label", "Store", "RecordFailure"])
def test_lambda_tasks_never_retry_a_rejection(name: str) -> None:
    retried = {error for retrier in TASKS[name]["Retry"] for error in retrier["ErrorEquals"]}
    assert ImageRejected.__name__ not in retried
    assert "States.ALL" not in retried and "States.TaskFailed" not in retried


@pytest.mark.parametrize("name", ["Validate", "Label", "Store", "RecordFailure"])
def test_a_crashed_function_environment_is_retried_once(name: str) -> None:
    """Runtime.ExitError: the process running the invocation died. The retry runs in a fresh
    environment; a crash that repeats costs one more invocation and then takes the failure branch."""
    (retrier,) = [r for r in TASKS[name]["Retry"] if "Runtime.ExitError" in r["ErrorEquals"]]
    assert (retrier["ErrorEquals"], retrier["MaxAttempts"]) == (["Runtime.ExitError"], 1)


def test_transient_errors_back_off_with_full_jitter_and_a_cap() -> None:
    (label_retry,) = [
        r for r in TASKS["Label"]["Retry"] if LabelServiceThrottled.__name__ in r["ErrorEquals"]
    ]
    assert label_retry["JitterStrategy"] == "FULL" and label_retry["MaxDelaySeconds"] <= 60
    for name in ("Validate", "Store"):
        assert any(StorageThrottled.__name__ in r["ErrorEquals"] for r in TASKS[name]["Retry"])


def test_failure_paths_end_in_a_fail_state() -> None:
    assert DEFINITION["States"]["Failed"]["Type"] == "Fail"
    for name in ("NotifyFailure", "NotifyUnrecordedFailure"):
        assert DEFINITION["States"][name]["Next"] == "Failed"
