"""Drive the pipeline directly: upload an object and start its execution with an S3 event of our making.

In the local stack, uploads reach the state machine through EventBridge as on AWS. Tests and the
benchmark use this to start executions with exact events (duplicates, old versions, out of order).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from labeler.events import build_object_created_event, execution_input
from labeler.models import ExecutionStatus

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import DescribeExecutionOutputTypeDef

_sequence_lock = threading.Lock()
_last_sequencer = 0


def next_sequencer() -> str:
    """A monotonically increasing 18-hex-digit sequencer, shaped like S3's."""
    global _last_sequencer
    with _sequence_lock:
        _last_sequencer = max(_last_sequencer + 1, time.time_ns())
        return f"{_last_sequencer:018X}"


def upload(
    s3: S3Client,
    bucket: str,
    key: str,
    body: bytes,
    content_type: str = "image/jpeg",
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """PutObject, then return the "Object Created" event S3 would emit for it."""
    response = s3.put_object(
        Bucket=bucket, Key=key, Body=body, ContentType=content_type, Metadata=metadata or {}
    )
    return build_object_created_event(
        bucket=bucket,
        key=key,
        size=len(body),
        etag=response["ETag"],
        version_id=response.get("VersionId"),
        sequencer=next_sequencer(),
    )


def start_execution(
    sfn: SFNClient, state_machine_arn: str, event: dict[str, Any], name: str | None = None
) -> str:
    return sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=name or f"{uuid.uuid4()}",
        input=json.dumps(execution_input(event)),
    )["executionArn"]


def wait_for_execution(
    sfn: SFNClient, execution_arn: str, timeout_s: float = 60, poll_s: float = 0.02
) -> DescribeExecutionOutputTypeDef:
    deadline = time.monotonic() + timeout_s
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        if ExecutionStatus(description["status"]).finished:
            return description
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_arn} still {description['status']} after {timeout_s}s")
        time.sleep(poll_s)
