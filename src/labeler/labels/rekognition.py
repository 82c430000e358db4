"""Amazon Rekognition DetectLabels, on the S3 object (never raw bytes: 15 MB vs 5 MB limit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from labeler.aws.codes import error_code, error_message
from labeler.errors import ImageRejected, LabelBackendMisconfigured, LabelServiceThrottled, RejectionCode
from labeler.models import BoundingBox, Instance, Label, LabelResult, ObjectRef
from labeler.settings import DEFAULT_MIN_CONFIDENCE

if TYPE_CHECKING:
    from mypy_boto3_rekognition import RekognitionClient

_TRANSIENT = {"ThrottlingException", "ProvisionedThroughputExceededException", "InternalServerError"}
_REJECTIONS = {
    "InvalidImageFormatException": (
        RejectionCode.UNREADABLE_IMAGE,
        "Rekognition could not decode the image although its header looked valid",
    ),
    "ImageTooLargeException": (RejectionCode.TOO_LARGE, "Rekognition found the image too large"),
    "InvalidParameterException": (RejectionCode.UNREADABLE_IMAGE, "Rekognition refused the image"),
    "InvalidS3ObjectException": (RejectionCode.OBJECT_GONE, "Rekognition could not read the object"),
}
_MISCONFIGURED = {"AccessDeniedException"}


def _label_from_api(raw: Any) -> Label:
    return Label(
        name=raw["Name"],
        confidence=raw["Confidence"],
        parents=[parent["Name"] for parent in raw.get("Parents", [])],
        aliases=[alias["Name"] for alias in raw.get("Aliases", [])],
        categories=[category["Name"] for category in raw.get("Categories", [])],
        instances=[
            Instance(
                bounding_box=BoundingBox(
                    width=instance["BoundingBox"]["Width"],
                    height=instance["BoundingBox"]["Height"],
                    left=instance["BoundingBox"]["Left"],
                    top=instance["BoundingBox"]["Top"],
                ),
                confidence=instance["Confidence"],
            )
            for instance in raw.get("Instances", [])
            if "BoundingBox" in instance
        ],
    )


@dataclass(frozen=True)
class RekognitionBackend:
    client: RekognitionClient
    max_labels: int = 10
    min_confidence: float = DEFAULT_MIN_CONFIDENCE["rekognition"]
    name: str = "rekognition"

    def warm_up(self) -> None:
        """Nothing to load: the client is built with the backend."""

    def detect_labels(self, image: ObjectRef) -> LabelResult:
        s3_object = {"Bucket": image.bucket, "Name": image.key}
        if image.version_id:
            s3_object["Version"] = image.version_id
        try:
            response = self.client.detect_labels(
                Image={"S3Object": s3_object},  # type: ignore[typeddict-item]
                MaxLabels=self.max_labels,
                MinConfidence=self.min_confidence,
            )
        except ClientError as error:
            code, message = error_code(error), error_message(error)
            if code in _TRANSIENT:
                raise LabelServiceThrottled(f"Rekognition answered {code}: {message}") from error
            if code in _REJECTIONS:
                rejection, reason = _REJECTIONS[code]
                raise ImageRejected(rejection, f"{reason} ({code}: {message}).") from error
            if code in _MISCONFIGURED:
                raise LabelBackendMisconfigured(f"Rekognition answered {code}: {message}") from error
            raise
        except (ConnectionError, ReadTimeoutError) as error:
            raise LabelServiceThrottled(f"Rekognition unreachable: {error}") from error
        except BotoCoreError:
            raise
        return LabelResult(
            labels=[_label_from_api(raw) for raw in response.get("Labels", [])],
            label_model_version=response.get("LabelModelVersion", "unknown"),
            backend=self.name,
        )
