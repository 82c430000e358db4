"""`labeler local` in its own process, started as a user starts it and found through its discovery file.

Used by the benchmark and the end-to-end tests: their uploads come from another process, as they
do from a browser or the CLI, so a client's own work never runs on the stack's interpreter.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from labeler_tools.deployment import Discovery, discovery_path
from labeler_tools.local.server import free_port

#: The `labeler` entry point of the running interpreter's environment.
LABELER = str(Path(sys.executable).parent / "labeler")
_PR_SET_PDEATHSIG = 1


def _prctl() -> Any:
    """Linux's prctl, looked up before any fork (None elsewhere)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()


def _terminate_with_parent() -> None:
    """Runs in the child between fork and exec: SIGTERM it when the process that started it dies, so a
    killed test run or benchmark leaves no stack behind (its sandboxes follow the stack). Linux sends
    it when the starting *thread* ends: start LocalProcess from a thread that outlives it."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


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
            preexec_fn=_terminate_with_parent,  # prctl only, looked up before the fork
        )
        # Read what it prints as it prints it: a pipe nobody drains fills up (64 KB) and then blocks
        # every thread of the stack that logs.
        self._output: list[str] = []
        self._reader = threading.Thread(target=self._drain, name="labeler-local-output", daemon=True)
        self._reader.start()
        try:
            self.discovery = self._wait_for_discovery()
        except BaseException:
            self.process.kill()  # never leave a stack running behind a failed start
            self.process.wait()
            raise

    def _wait_for_discovery(self, timeout_s: float = 120) -> Discovery:
        path, deadline = discovery_path(self.data_dir), time.monotonic() + timeout_s
        while not path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                self._reader.join(timeout=10)
                raise RuntimeError(f"labeler local did not come up:\n{self.output}")
            time.sleep(0.1)
        return Discovery.model_validate_json(path.read_text())

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.discovery.endpoint_url,
            region_name=self.discovery.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any
            config=Config(max_pool_connections=64),
        )

    def _pids(self) -> list[int]:
        """The stack's and its sandboxes' (its child processes)."""
        return [self.process.pid, *child_pids(self.process.pid)]

    def memory_mb(self) -> dict[str, float]:
        """Resident memory of the stack and its Lambda sandboxes (its child processes), now and the
        sum of each one's peak, and their proportional set size (``pss``: a page shared by several
        processes, as a template's with its sandboxes, counted once in all; Linux /proc; zeros where
        unavailable)."""
        found = {"now": 0.0, "peak": 0.0, "pss": 0.0}
        for pid in self._pids():
            for name, megabytes in _memory_mb(pid).items():
                found[name] = round(found[name] + megabytes, 1)
        return found

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) used so far by the stack and by each function's Lambda sandboxes
        (running now), keyed ``stack`` or the sandboxes' handler module (Linux /proc; empty where
        unavailable)."""
        found: dict[str, float] = {}
        for pid in self._pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            # After the command: state is field 3 of stat, utime and stime are fields 14 and 15.
            ticks = int(fields[11]) + int(fields[12])
            role = arguments[3].decode() if b"labeler_tools.local.sandbox" in arguments[:3] else "stack"
            found[role] = found.get(role, 0.0) + ticks / os.sysconf("SC_CLK_TCK")
        return found

    def stop(self, timeout_s: float = 60) -> str:
        """Ctrl-C, as a user stops it; returns everything it printed (exit status: ``process.returncode``)."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=10)
        return self.output

    @property
    def output(self) -> str:
        """Everything it has printed so far."""
        return "".join(self._output)

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._output.append(line)

    def __enter__(self) -> LocalProcess:
        return self

    def __exit__(self, *_: object) -> None:
        if self.process.poll() is None:
            self.stop()


def child_pids(pid: int) -> list[int]:
    """The processes ``pid`` started (from any of its threads), and theirs: the stack's sandbox
    templates and the sandboxes they forked (Linux /proc; empty elsewhere)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children.extend(int(child) for child in (task / "children").read_text().split())
    return [descendant for child in children for descendant in (child, *child_pids(child))]


def _memory_mb(pid: int) -> dict[str, float]:
    names = {"VmRSS:": "now", "VmHWM:": "peak", "Pss:": "pss"}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    with contextlib.suppress(OSError):  # Linux 4.14 and later
        lines += Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    return {
        names[fields[0]]: int(fields[1]) / 1024
        for fields in map(str.split, lines)
        if fields and fields[0] in names
    }
