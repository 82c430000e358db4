"""Handlers for tests/integration/test_sandbox.py, imported inside sandbox processes."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

#: The process that imported this module: a sandbox's template, which ran the init phase once.
INIT_PID = os.getpid()


class ImageTooSmall(ValueError):
    """A typed error, as the pipeline's handlers raise them."""


def describe(event: Any, context: Any) -> dict[str, Any]:
    return {
        "event": event,
        "pid": os.getpid(),
        "function": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "greeting": os.environ.get("GREETING"),
    }


def refuse(event: Any, context: Any) -> None:
    raise ImageTooSmall(f"{event['width']} px is too small")


def hold(event: Any, context: Any) -> dict[str, float]:
    """Sleeps for event["seconds"]; answers when it ran (concurrent invocations overlap)."""
    started = time.monotonic()
    time.sleep(event["seconds"])
    return {"started": started, "ended": time.monotonic(), "pid": os.getpid()}


def meet(event: Any, context: Any) -> dict[str, Any]:
    """Waits (up to 30 s) until event["n"] invocations have arrived in the folder event["folder"]: it
    answers only if that many ran at once, each in a process of its own."""
    folder = Path(event["folder"])
    (folder / str(os.getpid())).touch()
    deadline = time.monotonic() + 30
    while len(list(folder.iterdir())) < event["n"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(folder.iterdir()))} of {event['n']} met")
        time.sleep(0.01)
    return {"pid": os.getpid(), "init_pid": INIT_PID}


def crash_if_asked(event: Any, context: Any) -> int:
    """Meets the others first when event has a "folder" (see ``meet``), then exits if asked to;
    answers its pid."""
    if "folder" in event:
        meet(event, context)
    if event["crash"]:
        os._exit(3)  # what a segfault in a decoder looks like from outside: the process is gone
    return os.getpid()


def list_tables(event: Any, context: Any) -> dict[str, Any]:
    """One boto3 call, as the pipeline's handlers make them; answers what came back."""
    client = boto3.session.Session().client(
        "dynamodb", region_name="us-east-1", config=Config(retries={"max_attempts": 1, "mode": "standard"})
    )
    try:
        return {"tables": client.list_tables()["TableNames"]}
    except ClientError as error:
        return {"status": error.response["ResponseMetadata"]["HTTPStatusCode"]}
