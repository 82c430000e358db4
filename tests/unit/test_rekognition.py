"""Rekognition backend: request shape and error mapping (botocore Stubber: no network, real client)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from labeler.errors import ImageRejected, LabelBackendMisconfigured, LabelServiceThrottled, RejectionCode
from labeler.labels.rekognition import RekognitionBackend
from labeler.models import ObjectRef

IMAGE = ObjectRef(bucket="uploads-bucket", key="uploads/o/cat.jpg", version_id="v1", etag="e", size=10)


@pytest.fixture
def stubbed() -> Iterator[tuple[RekognitionBackend, Stubber]]:
    client = boto3.client("rekognition", region_name="us-east-1", endpoint_url="https://rekognition.invalid")
    with Stubber(client) as stubber:
        yield RekognitionBackend(client, max_labels=7, min_confidence=55.0), stubber
        stubber.assert_no_pending_responses()


def test_labels_keep_parents_aliases_categories_and_instances(
    stubbed: tuple[RekognitionBackend, Stubber],
) -> None:
    backend, stubber = stubbed
    stubber.add_response(
        "detect_labels",
        {
            "LabelModelVersion": "3.0",
            "Labels": [
                {
                    "Name": "Cat",
                    "Confidence": 98.5,
                    "Parents": [{"Name": "Animal"}, {"Name": "Pet"}],
                    "Aliases": [{"Name": "Kitty"}],
                    "Categories": [{"Name": "Animals and Pets"}],
                    "Instances": [
                        {
                            "BoundingBox": {"Width": 0.5, "Height": 0.4, "Left": 0.1, "Top": 0.2},
                            "Confidence": 97.0,
                        }
                    ],
                }
            ],
        },
        expected_params={
            "Image": {"S3Object": {"Bucket": "uploads-bucket", "Name": "uploads/o/cat.jpg", "Version": "v1"}},
            "MaxLabels": 7,
            "MinConfidence": 55.0,
        },
    )
    result = backend.detect_labels(IMAGE)
    (cat,) = result.labels
    assert (cat.name, cat.confidence, cat.parents, cat.aliases, cat.categories) == (
        "Cat",
        98.5,
        ["Animal", "Pet"],
        ["Kitty"],
        ["Animals and Pets"],
    )
    assert cat.instances[0].bounding_box.left == 0.1
    assert (result.label_model_version, result.backend) == ("3.0", "rekognition")


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "ProvisionedThroughputExceededException", "InternalServerError"]
)
def test_transient_errors_are_retryable(stubbed: tuple[RekognitionBackend, Stubber], code: str) -> None:
    backend, stubber = stubbed
    stubber.add_client_error("detect_labels", service_error_code=code, http_status_code=500)
    with pytest.raises(LabelServiceThrottled, match=code):
        backend.detect_labels(IMAGE)


@pytest.mark.parametrize(
    ("code", "rejection"),
    [
        ("InvalidImageFormatException", RejectionCode.UNREADABLE_IMAGE),
        ("ImageTooLargeException", RejectionCode.TOO_LARGE),
        ("InvalidParameterException", RejectionCode.UNREADABLE_IMAGE),
        ("InvalidS3ObjectException", RejectionCode.OBJECT_GONE),
    ],
)
def test_image_problems_are_permanent_rejections(
    stubbed: tuple[RekognitionBackend, Stubber], code: str, rejection: RejectionCode
) -> None:
    backend, stubber = stubbed
    stubber.add_client_error(
        "detect_labels", service_error_code=code, service_message="nope", http_status_code=400
    )
    with pytest.raises(ImageRejected) as raised:
        backend.detect_labels(IMAGE)
    assert raised.value.code is rejection
    assert code in raised.value.reason


def test_access_denied_is_a_failure_not_a_rejection(stubbed: tuple[RekognitionBackend, Stubber]) -> None:
    backend, stubber = stubbed
    stubber.add_client_error(
        "detect_labels", service_error_code="AccessDeniedException", http_status_code=403
    )
    with pytest.raises(LabelBackendMisconfigured):
        backend.detect_labels(IMAGE)


def test_fault_injection_wraps_the_configured_backend() -> None:
    from labeler.faults import FailFirstCalls
    from labeler.settings import Settings
    from labeler.wiring import label_backend

    backend = label_backend(Settings(label_backend="rekognition", fail_first_label_calls=3))
    assert isinstance(backend, FailFirstCalls)
    assert (backend.failures, backend.name) == (3, "rekognition")
    for _ in range(3):
        with pytest.raises(LabelServiceThrottled, match="injected fault"):
            backend.detect_labels(IMAGE)
    assert isinstance(label_backend(Settings(label_backend="rekognition")), RekognitionBackend)
