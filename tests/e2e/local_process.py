"""`labeler local` started as its own process, the way a user runs it (shared by the e2e tests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from labeler.local.discovery import discovery_path
from labeler.local.server import free_port

LABELER = str(Path(sys.executable).parent / "labeler")


class Running:
    """A `labeler local` subprocess on free ports, with its own data dir; found through local.json."""

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
        path, deadline = discovery_path(self.data_dir), time.monotonic() + timeout_s
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
