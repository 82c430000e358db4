"""Session-wide fixtures: one moto server and one provisioned stack for every integration test.

Tests isolate themselves by owner (``uploads/<owner>/...``), not by resetting moto, so the stack is
provisioned once per session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from labeler.local.provision import StackNames, StackOutputs, provision
from labeler.local.server import LocalAws, free_port

NAMES = StackNames(prefix="test-labeler")
MOTO_PORT = free_port()

# Before any handler module reads its settings; fake credentials so nothing can reach a real account.
# In this process boto3 calls go to moto's backends in process (labeler.local.moto_hooks).
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LABELER_RESULTS_TABLE": NAMES.results_table,
        "POWERTOOLS_METRICS_NAMESPACE": "ImageLabelerTests",
    }
)
os.environ.pop("AWS_PROFILE", None)

#: Retry waits written in the ASL (seconds) are scaled by this in tests: 2 s becomes 10 ms.
RETRY_WAIT_FACTOR = 0.005


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws(NAMES.handler_modules(), port=MOTO_PORT, retry_wait_factor=RETRY_WAIT_FACTOR) as aws:
        yield aws


@pytest.fixture(scope="session")
def stack(local_aws: LocalAws) -> StackOutputs:
    """The whole stack; uploads start nothing by themselves unless a test turns delivery on."""
    return provision(local_aws.session(), NAMES, deliver_uploads=False)


@pytest.fixture
def owner() -> str:
    """A fresh uploader identity per test: its records and keys are its own."""
    return f"us-east-1:{uuid.uuid4()}"
