"""End-to-end fixtures: uploads go through S3 -> EventBridge -> Step Functions with the offline model."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest
from PIL import Image

import functions.label.handler as label_handler
from labeler.labels.onnx_backend import OnnxBackend
from labeler_tools.deployment import LocalResources
from labeler_tools.local.server import LocalAws
from tests.conftest import uploads_delivered

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
def delivered(local_aws: LocalAws, stack: LocalResources) -> Iterator[boto3.Session]:
    """Uploads start executions through the EventBridge rule; the label λ uses the offline model."""
    with pytest.MonkeyPatch.context() as patch, uploads_delivered(local_aws, stack) as session:
        patch.setattr(label_handler, "backend", OnnxBackend())
        yield session
