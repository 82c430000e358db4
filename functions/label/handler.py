"""Label λ: detect labels with the configured backend (Rekognition on AWS, the offline model locally)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from labeler.blueprint import Metric
from labeler.models import ImageInfo
from labeler.observability import logger, metrics, milliseconds
from labeler.pipeline import label_image
from labeler.settings import get_settings
from labeler.wiring import label_backend

settings = get_settings()
#: Built once per process (model sessions and clients are reused across invocations).
backend = label_backend(settings)
backend.warm_up()  # the init phase: the offline model is loaded and checksummed before the first image


class LabelRequest(BaseModel):
    image: ImageInfo


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_parser(model=LabelRequest)
def lambda_handler(event: LabelRequest, context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(event.image.object.request_id)
    logger.append_keys(key=event.image.object.key, backend=backend.name)
    result = label_image(event.image, backend, settings.max_label_payload_bytes, settings.label_settings)
    milliseconds(Metric.LABEL_LATENCY, result.label_ms)
    logger.info("image labeled", labels=len(result.labels), label_ms=result.label_ms)
    return result.model_dump(mode="json")
