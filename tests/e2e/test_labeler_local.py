"""`labeler local` as a user runs it: a separate process, found through its discovery file."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from labeler.blueprint import FUNCTIONS
from labeler_tools.local.process import child_pids
from labeler_tools.samples import photo_like
from tests.e2e.local_process import Running

pytestmark = pytest.mark.integration


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "labeler-data"


def _record(running: Running, key: str, timeout_s: float = 30) -> dict[str, Any]:
    dynamodb, deadline = running.client("dynamodb"), time.monotonic() + timeout_s
    while True:
        item = dynamodb.get_item(
            TableName=running.discovery.results_table, Key={"Owner": {"S": "me"}, "ImageName": {"S": key}}
        ).get("Item")
        if item and item["Status"]["S"] != "PROCESSING":
            return dict(item)
        assert time.monotonic() < deadline, f"no record for {key}"
        time.sleep(0.05)


def test_uploads_are_labeled_and_survive_a_restart(data_dir: Path) -> None:
    running = Running(data_dir)
    try:
        key = "uploads/me/sky and ground.jpg"
        running.client("s3").put_object(Bucket=running.discovery.upload_bucket, Key=key, Body=photo_like())
        first = _record(running, key)
        assert first["Status"]["S"] == "LABELED"
        cpu = running.cpu_seconds()  # what make bench reports per image, by process
        sandboxes = {f"functions.{spec.name}.handler" for spec in FUNCTIONS}
        assert set(cpu) == {"stack", *sandboxes}
        assert all(seconds > 0 for seconds in cpu.values())  # importing alone costs each process CPU
        assert first["LabelBackend"]["S"] == "onnx"
        with urllib.request.urlopen(running.discovery.web_url + "status", timeout=10) as response:  # noqa: S310
            assert key in response.read().decode()
    finally:
        output = running.stop()
    assert "saved 1 uploads and 1 records" in output
    assert not (data_dir / "local.json").exists()

    again = Running(data_dir)
    try:
        # the browser's cached guest identity belongs to the same pool: its uploads stay its own
        assert again.discovery.identity_pool_id == running.discovery.identity_pool_id
        assert "IdentityId" in again.client("cognito-identity").get_id(
            IdentityPoolId=again.discovery.identity_pool_id
        )
        assert _record(again, key) == first
        body = again.client("s3").get_object(Bucket=again.discovery.upload_bucket, Key=key)["Body"].read()
        assert body == photo_like()
    finally:
        assert "restored 1 uploads and 1 records" in again.stop()


_STARTER = """
import sys, time
from pathlib import Path
from labeler_tools.local.process import LocalProcess
stack = LocalProcess(Path(sys.argv[1]), ["--ephemeral"])
print(stack.process.pid, flush=True)
time.sleep(600)
"""


def _ended(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet (it runs nothing any more)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_killed_starter_leaves_no_stack_or_sandbox_behind(data_dir: Path) -> None:
    """A test run or benchmark killed mid-way (SIGKILL: no cleanup of its own runs) takes its
    `labeler local` and that stack's Lambda sandboxes with it."""
    starter = subprocess.Popen(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", _STARTER, str(data_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert starter.stdout is not None
        stack = int(starter.stdout.readline())
        sandboxes = child_pids(stack)
        assert len(sandboxes) == len(FUNCTIONS)  # validate, label, store, cleanup
    finally:
        starter.kill()
        starter.wait()

    started = [stack, *sandboxes]
    deadline = time.monotonic() + 30
    while not all(_ended(pid) for pid in started):
        assert time.monotonic() < deadline, f"still running: {[pid for pid in started if not _ended(pid)]}"
        time.sleep(0.1)
