"""Session-wide fixtures: one moto server and one provisioned stack for every integration test.

Tests isolate themselves by owner (``uploads/<owner>/...``), not by resetting moto, so the stack is
provisioned once per session.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest

from labeler.aws.results import ResultsRepository
from labeler.models import ImageStatus, ResultRecord
from labeler_tools.deployment import LocalResources, StackNames
from labeler_tools.local.provision import provision, set_upload_delivery
from labeler_tools.local.server import LocalAws, free_port

NAMES = StackNames(prefix="test-labeler")

# Before any handler module reads its settings; fake credentials so nothing can reach a real account.
# In this process boto3 calls go to moto's backends in process (labeler_tools.local.hooks.core).
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LABELER_RESULTS_TABLE": NAMES.results_table,
        "LABELER_USAGE_TABLE": NAMES.usage_table,
        "LABELER_LABELS_TABLE": NAMES.labels_table,
        # No quota by default; tests/integration/test_quotas.py sets its own limits.
        "LABELER_QUOTA_PER_OWNER_PER_DAY": "0",
        "LABELER_QUOTA_GLOBAL_PER_DAY": "0",
        "POWERTOOLS_METRICS_NAMESPACE": "ImageLabelerTests",
    }
)
os.environ.pop("AWS_PROFILE", None)

#: Retry waits written in the ASL (seconds) are scaled by this in tests: 2 s becomes 10 ms.
RETRY_WAIT_FACTOR = 0.005


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    # The port is chosen when the session starts, not at import: processes forked from one that
    # imported this module (mutmut's workers) must not share it.
    port = free_port()
    with LocalAws(NAMES.handler_modules(), port=port, retry_wait_factor=RETRY_WAIT_FACTOR) as aws:
        yield aws


@pytest.fixture(scope="session")
def stack(local_aws: LocalAws) -> LocalResources:
    """The whole stack; uploads start nothing by themselves unless a test turns delivery on."""
    return provision(local_aws.session(), NAMES, deliver_uploads=False)


@contextmanager
def uploads_delivered(
    aws: LocalAws, stack: LocalResources, drain_timeout_s: float = 60
) -> Iterator[boto3.Session]:
    """Uploads start executions through the EventBridge rule while the block runs; afterwards
    delivery is off again and running executions have ended, so nothing leaks into later tests."""
    session = aws.session()
    set_upload_delivery(session, stack, enabled=True)
    try:
        yield session
    finally:
        set_upload_delivery(session, stack, enabled=False)
        drain_executions(session, stack, drain_timeout_s)


def wait_for_final_record(
    session: boto3.Session, stack: LocalResources, owner: str, key: str, timeout_s: float = 30
) -> ResultRecord:
    """The image's record once it is LABELED, REJECTED or FAILED."""
    repository = ResultsRepository(session.client("dynamodb"), stack.results_table)
    deadline = time.monotonic() + timeout_s
    while (record := repository.get(owner, key)) is None or record.status is ImageStatus.PROCESSING:
        assert time.monotonic() < deadline, f"no final record for {key} after {timeout_s}s"
        time.sleep(0.05)
    return record


def drain_executions(session: boto3.Session, stack: LocalResources, timeout_s: float = 60) -> None:
    """Wait until no execution of the stack is running."""
    sfn = session.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while sfn.list_executions(stateMachineArn=stack.state_machine_arn, statusFilter="RUNNING")["executions"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"executions still running after {timeout_s}s")
        time.sleep(0.05)


@pytest.fixture
def owner() -> str:
    """A fresh uploader identity per test: its records and keys are its own."""
    return f"us-east-1:{uuid.uuid4()}"
