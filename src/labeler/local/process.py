"""`labeler local` in its own process, started as a user starts it and found through its discovery file.

Used by the benchmark and the end-to-end tests: their uploads come from another process, as they
do from a browser or the CLI, so a client's own work never runs on the stack's interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from labeler.local.discovery import discovery_path
from labeler.local.server import free_port

#: The `labeler` entry point of the running interpreter's environment.
LABELER = str(Path(sys.executable).parent / "labeler")


class LocalProcess:
    """A `labeler local` subprocess on free ports with its own data dir (``arguments`` are added)."""

    def __init__(self, data_dir: Path, arguments: Sequence[str] = ()) -> None:
        self.data_dir = data_dir
        # Nothing of this process's AWS or labeler settings leaks into the stack.
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABELER_", "MOTO_"))}
        ports = ["--port", str(free_port()), "--web-port", str(free_port())]
        self.process = subprocess.Popen(  # noqa: S603 - our own entry point
            [LABELER, "local", "--no-open", *ports, "--data-dir", str(data_dir), *arguments],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            self.discovery = self._wait_for_discovery()
        except BaseException:
            self.process.kill()  # never leave a stack running behind a failed start
            self.process.communicate()
            raise

    def _wait_for_discovery(self, timeout_s: float = 120) -> dict[str, Any]:
        path, deadline = discovery_path(self.data_dir), time.monotonic() + timeout_s
        while not path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                output = self.process.stdout.read() if self.process.stdout else ""
                raise RuntimeError(f"labeler local did not come up:\n{output}")
            time.sleep(0.1)
        return dict(json.loads(path.read_text()))

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.discovery["endpoint_url"],
            region_name=self.discovery["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any
            config=Config(max_pool_connections=64),
        )

    def memory_mb(self) -> dict[str, float]:
        """The stack's resident memory now and at its peak (Linux /proc; zeros where unavailable)."""
        names = {"VmRSS:": "now", "VmHWM:": "peak"}
        found = {"now": 0.0, "peak": 0.0}
        try:
            lines = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        except OSError:
            return found
        for line in lines:
            fields = line.split()
            if fields and fields[0] in names:
                found[names[fields[0]]] = round(int(fields[1]) / 1024, 1)
        return found

    def stop(self, timeout_s: float = 60) -> str:
        """Ctrl-C, as a user stops it; returns everything it printed (exit status: ``process.returncode``)."""
        self.process.send_signal(signal.SIGINT)
        try:
            output, _ = self.process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return str(output)

    def __enter__(self) -> LocalProcess:
        return self

    def __exit__(self, *_: object) -> None:
        if self.process.poll() is None:
            self.stop()
