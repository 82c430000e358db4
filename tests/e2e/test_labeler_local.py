"""`labeler local` as a user runs it: a separate process, found through its discovery file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from labeler.local.server import free_port
from labeler.samples import photo_like

pytestmark = pytest.mark.integration

LABELER = str(Path(sys.executable).parent / "labeler")


class Running:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABELER_", "MOTO_"))}
        self.process = subprocess.Popen(  # noqa: S603 - our own entry point
            [
                LABELER,
                "local",
                "--no-open",
                "--port",
                str(free_port()),
                "--web-port",
                str(free_port()),
                "--data-dir",
                str(data_dir),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.discovery = self._wait_for_discovery()

    def _wait_for_discovery(self, timeout_s: float = 60) -> dict[str, Any]:
        path, deadline = self.data_dir / "local.json", time.monotonic() + timeout_s
        while not path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                output = self.process.stdout.read() if self.process.stdout else ""
                pytest.fail(f"labeler local did not come up:\n{output}")
            time.sleep(0.1)
        return dict(json.loads(path.read_text()))

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.discovery["endpoint_url"],
            region_name=self.discovery["region"],
            aws_access_key_id="any",
            aws_secret_access_key="any",
        )

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)
        output, _ = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, output
        return output


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "labeler-data"


def _record(running: Running, key: str, timeout_s: float = 30) -> dict[str, Any]:
    dynamodb, deadline = running.client("dynamodb"), time.monotonic() + timeout_s
    while True:
        item = dynamodb.get_item(
            TableName=running.discovery["results_table"], Key={"Owner": {"S": "me"}, "ImageName": {"S": key}}
        ).get("Item")
        if item and item["Status"]["S"] != "PROCESSING":
            return dict(item)
        assert time.monotonic() < deadline, f"no record for {key}"
        time.sleep(0.05)


def test_uploads_are_labeled_and_survive_a_restart(data_dir: Path) -> None:
    running = Running(data_dir)
    try:
        key = "uploads/me/sky and ground.jpg"
        running.client("s3").put_object(Bucket=running.discovery["upload_bucket"], Key=key, Body=photo_like())
        first = _record(running, key)
        assert first["Status"]["S"] == "LABELED"
        assert first["LabelBackend"]["S"] == "onnx"
        with urllib.request.urlopen(running.discovery["web_url"], timeout=10) as response:  # noqa: S310
            assert key in response.read().decode()
    finally:
        output = running.stop()
    assert "saved 1 uploads and 1 records" in output
    assert not (data_dir / "local.json").exists()

    again = Running(data_dir)
    try:
        assert _record(again, key) == first
        body = again.client("s3").get_object(Bucket=again.discovery["upload_bucket"], Key=key)["Body"].read()
        assert body == photo_like()
    finally:
        assert "restored 1 uploads and 1 records" in again.stop()
