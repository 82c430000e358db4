"""End-to-end fixtures: uploads go through S3 -> EventBridge -> Step Functions with the offline model."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest
from PIL import Image

import functions.label.handler as label_handler
from labeler.aws.results import ResultsRepository
from labeler.labels.onnx_backend import OnnxBackend
from labeler.local.provision import StackOutputs, set_upload_delivery
from labeler.local.server import LocalAws
from labeler.models import ImageStatus, ResultRecord

pytestmark = pytest.mark.integration


def jpeg_of(pixels: np.ndarray[Any, Any]) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def public_domain_photos() -> dict[str, bytes]:
    """Real photos shipped inside scikit-image's wheel (public domain / CC0), as JPEG."""
    from skimage import data

    return {
        "cat": jpeg_of(data.chelsea()),  # type: ignore[no-untyped-call]
        "coffee": jpeg_of(data.coffee()),  # type: ignore[no-untyped-call]
    }


@pytest.fixture(scope="module")
def delivered(local_aws: LocalAws, stack: StackOutputs) -> Iterator[boto3.Session]:
    """Uploads start executions through the EventBridge rule; the label λ uses the offline model."""
    session = local_aws.session()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(label_handler, "backend", OnnxBackend())
        set_upload_delivery(session, stack, enabled=True)
        try:
            yield session
        finally:
            set_upload_delivery(session, stack, enabled=False)
            drain_executions(session, stack)


def wait_for_final_record(
    session: boto3.Session, stack: StackOutputs, owner: str, key: str, timeout_s: float = 30
) -> ResultRecord:
    """The image's record once it is LABELED, REJECTED or FAILED."""
    repository = ResultsRepository(session.client("dynamodb"), stack.results_table)
    deadline = time.monotonic() + timeout_s
    while (record := repository.get(owner, key)) is None or record.status is ImageStatus.PROCESSING:
        assert time.monotonic() < deadline, f"no final record for {key} after {timeout_s}s"
        time.sleep(0.05)
    return record


def drain_executions(session: boto3.Session, stack: StackOutputs, timeout_s: float = 60) -> None:
    """Wait for executions still running, so they cannot leak into later tests."""
    sfn = session.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while sfn.list_executions(stateMachineArn=stack.state_machine_arn, statusFilter="RUNNING")["executions"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"executions still running after {timeout_s}s")
        time.sleep(0.05)
