"""What operators type into the CLI: times, paths, item lists, and the errors they get back."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from labeler_tools.cli import app
from labeler_tools.deployment import DISCOVERY_FILE, Discovery, write_discovery
from labeler_tools.ops.replay import parse_items
from labeler_tools.ops.upload import check_owner, collect, plan
from labeler_tools.ops.when import parse_when

NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


def labeler(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("2h", NOW - timedelta(hours=2)),
        ("1.5d", NOW - timedelta(days=1.5)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2026-11-25", datetime(2026, 11, 25, tzinfo=UTC)),
        ("2026-11-25T10:30Z", datetime(2026, 11, 25, 10, 30, tzinfo=UTC)),
        ("2026-11-25T12:30+02:00", datetime(2026, 11, 25, 10, 30, tzinfo=UTC)),
    ],
)
def test_when_is_relative_or_iso(text: str, expected: datetime) -> None:
    assert parse_when(text, now=NOW) == expected


def test_a_time_that_is_neither_is_a_usage_error_exit_1() -> None:
    result = labeler("list", "--since", "yesterday")

    assert result.exit_code == 1
    assert "'yesterday' is not a time" in result.stderr


def test_an_unknown_option_exits_1_not_clicks_2() -> None:
    assert labeler("replay", "--bogus").exit_code == 1


def test_files_come_from_paths_folders_and_globs(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"a")
    (tmp_path / "trip" / "day 1").mkdir(parents=True)
    (tmp_path / "trip" / "day 1" / "b.PNG").write_bytes(b"b")
    (tmp_path / "trip" / ".thumbs").mkdir()
    (tmp_path / "trip" / ".thumbs" / "c.jpg").write_bytes(b"c")
    (tmp_path / "trip" / ".DS_Store").write_bytes(b"d")

    files, problems = collect(
        [str(tmp_path / "trip"), str(tmp_path / "*.jpg"), str(tmp_path / "a.jpg"), str(tmp_path / "nope.jpg")]
    )

    assert files == [tmp_path / "trip" / "day 1" / "b.PNG", tmp_path / "a.jpg"]
    assert problems == [f"{tmp_path / 'nope.jpg'}: no such file or folder"]


def test_keys_are_safe_unique_names_under_the_owner(tmp_path: Path) -> None:
    names = ["holiday photo (1).JPG", "résumé.png", "archive.tar.gz", "no-extension", "odd.j p g"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")

    keys = [upload.key for upload in plan([tmp_path / name for name in names], "alice")]

    assert [key.rsplit(".", 1)[-1] if "." in key else "" for key in keys] == ["jpg", "png", "gz", "", ""]
    assert all(key.startswith("uploads/alice/") and key.isascii() and " " not in key for key in keys)
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("owner", ["", "a/b", "../x", "x" * 129, "spaces are bad"])
def test_an_owner_must_be_one_key_segment(owner: str) -> None:
    with pytest.raises(ValueError, match="cannot be an owner"):
        check_owner(owner)


def test_items_from_stdin_are_lines_or_the_json_of_labeler_list() -> None:
    assert parse_items("uploads/a/1.jpg\n\n  arn:aws:states:x \n") == ["uploads/a/1.jpg", "arn:aws:states:x"]
    assert parse_items(json.dumps([{"key": "uploads/a/1.jpg", "status": "FAILED"}])) == ["uploads/a/1.jpg"]


def test_without_a_running_local_stack_the_error_says_how_to_start_one(tmp_path: Path) -> None:
    result = labeler("status", "uploads/a/b.jpg", "--data-dir", str(tmp_path))

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: No local stack is running (no {tmp_path / DISCOVERY_FILE}). "
        "Start one with `make run` or pass --endpoint-url."
    )


def test_a_discovery_file_left_by_a_stopped_stack_is_not_trusted(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    discovery = Discovery(
        endpoint_url="http://127.0.0.1:9",
        region="us-east-1",
        upload_bucket="b",
        results_table="t",
        usage_table="u",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:p",
        failure_topic_arn="arn:aws:sns:us-east-1:123456789012:f",
        upload_rule="r",
        identity_pool_id="us-east-1:p",
        notifications_queue_url="http://127.0.0.1:9/q",
        web_url="http://127.0.0.1:9/",
        label_backend="onnx",
        pid=int(gone.stdout),
        started_at="2026-12-02T00:00:00+00:00",
    )
    write_discovery(tmp_path, discovery)

    result = labeler("list", "--data-dir", str(tmp_path))

    assert result.exit_code == 1
    assert f"left over from process {discovery.pid}" in result.stderr


def test_profile_without_stack_is_refused() -> None:
    result = labeler("list", "--profile", "prod")

    assert result.exit_code == 1
    assert "add --stack NAME" in result.stderr


COMMANDS_WITH_A_TARGET = [
    ["upload"],
    ["status"],
    ["list"],
    ["executions", "list"],
    ["executions", "show"],
    ["replay"],
    ["delete"],
]


@pytest.mark.parametrize("command", COMMANDS_WITH_A_TARGET, ids=" ".join)
def test_every_command_with_a_target_has_the_target_options_after_it(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    for option, help_text in [
        ("--stack", "Work on this CloudFormation stack on AWS"),
        ("--profile", "AWS profile for --stack"),
        ("--region", "AWS region for --stack"),
        ("--endpoint-url", "AWS endpoint of a local stack"),
        ("--data-dir", "Data dir of labeler local"),
        ("--wide", "Show every column, nothing shortened"),
    ]:
        assert option in result.stdout and help_text in result.stdout, option
    assert "Target (default: the running local stack)" in result.stdout


def test_python_dash_m_runs_the_same_app() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "labeler_tools.cli", "executions", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "list" in result.stdout and "show" in result.stdout
