"""The operator CLI against a real `labeler local` in another process: found through its discovery
file, talked to over HTTP, labels from the offline model."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from labeler_tools.cli import app
from tests.e2e.local_process import LABELER, Running

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    stack = Running(tmp_path_factory.mktemp("labeler-data"))
    try:
        yield stack
    finally:
        stack.stop()


def labeler(running: Running, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--data-dir", str(running.data_dir)])


def test_upload_wait_then_inspect_and_replay_nothing(
    running: Running, tmp_path: Path, public_domain_photos: dict[str, bytes]
) -> None:
    (tmp_path / "chelsea the cat.jpg").write_bytes(public_domain_photos["cat"])
    (tmp_path / "minutes.jpg").write_bytes(b"%PDF-1.7 the minutes of the meeting")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABELER_", "MOTO_"))}

    command = [LABELER, "upload", str(tmp_path), "--owner", "me", "--wait", "--json"]

    upload = subprocess.run(  # noqa: S603 - our own entry point
        [*command, "--data-dir", str(running.data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert upload.returncode == 2, upload.stderr  # the PDF is not labeled
    by_name = {Path(item["path"]).name: item for item in json.loads(upload.stdout)}
    cat, minutes = by_name["chelsea the cat.jpg"], by_name["minutes.jpg"]
    assert cat["record"]["status"] == "LABELED"
    assert cat["record"]["labels"][0]["name"] in {"Tiger Cat", "Tabby Cat", "Egyptian Mau"}
    assert cat["record"]["original_name"] == "chelsea the cat.jpg"
    assert (minutes["record"]["status"], minutes["record"]["error_code"]) == (
        "REJECTED",
        "UNSUPPORTED_FORMAT",
    )

    listed = json.loads(labeler(running, "list", "--owner", "me", "--json").stdout)
    assert sorted(record["key"] for record in listed) == sorted([cat["key"], minutes["key"]])
    assert labeler(running, "status", cat["key"]).exit_code == 0
    shown = json.loads(labeler(running, "executions", "show", cat["key"], "--json").stdout)
    assert [state["name"] for state in shown["states"]] == ["Validate", "IsDuplicate", "Label", "Store"]

    nothing = labeler(running, "replay", "--wait")
    assert nothing.exit_code == 0
    assert "Nothing to replay" in nothing.stderr
    rejected = json.loads(
        labeler(
            running, "replay", "--status", "REJECTED", "--key", minutes["key"], "--dry-run", "--json"
        ).stdout
    )
    assert [item["action"] for item in rejected["items"]] == ["restart"]
