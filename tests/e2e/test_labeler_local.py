"""`labeler local` as a user runs it: a separate process, found through its discovery file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
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
        assert len(sandboxes) == 2 * len(FUNCTIONS)  # a template and a sandbox for each function
    finally:
        starter.kill()
        starter.wait()

    started = [stack, *sandboxes]
    deadline = time.monotonic() + 30
    while not all(_ended(pid) for pid in started):
        assert time.monotonic() < deadline, f"still running: {[pid for pid in started if not _ended(pid)]}"
        time.sleep(0.1)


def _sandboxes_of(running: Running, module: str) -> list[int]:
    return [
        pid
        for pid in child_pids(running.process.pid)
        if module.encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    ]


def test_a_killed_label_sandbox_costs_at_most_its_own_invocation_and_logs_keep_their_image(
    data_dir: Path,
) -> None:
    """30 uploads in flight, every label sandbox killed (SIGKILL) once the first image is done: each
    killed sandbox failed at most the one invocation it ran, whose retry labeled it, and every log line
    of every handler names the image of its own invocation (one invocation per process: no key or
    correlation id of another image's invocation leaks into it)."""
    running = Running(data_dir, ["--ephemeral", "--verbose", "--quota-exempt", "me"])
    keys = [f"uploads/me/photo {index:02d}.jpg" for index in range(30)]
    try:
        s3, bucket = running.client("s3"), running.discovery.upload_bucket
        with ThreadPoolExecutor(6) as pool:
            uploads = [
                pool.submit(s3.put_object, Bucket=bucket, Key=key, Body=photo_like(96, 96, seed=index))
                for index, key in enumerate(keys)
            ]
            _record(running, keys[0])
            killed = _sandboxes_of(running, "functions.label.handler")
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
            for upload in uploads:
                upload.result()
        records = [_record(running, key, timeout_s=60) for key in keys]
        sfn = running.client("stepfunctions")
        executions = sfn.list_executions(stateMachineArn=running.discovery.state_machine_arn)["executions"]
        crashed = [
            execution["name"]
            for execution in executions
            for event in sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
            if event["type"] == "TaskFailed"
            and "Runtime.ExitError" in event["taskFailedEventDetails"]["cause"]
        ]
    finally:
        output = running.stop()

    assert [record["Status"]["S"] for record in records] == ["LABELED"] * len(keys)
    assert killed and len(crashed) <= len(killed)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith('{"level"')]
    keys_by_correlation_id: dict[str, set[str]] = {}
    for line in lines:
        if "correlation_id" in line and "key" in line:
            keys_by_correlation_id.setdefault(line["correlation_id"], set()).add(line["key"])
    labeled = {line["key"] for line in lines if line.get("message") == "image labeled"}
    assert labeled == set(keys)
    assert all(len(found) == 1 for found in keys_by_correlation_id.values()), keys_by_correlation_id
    assert len(keys_by_correlation_id) >= len(keys)
