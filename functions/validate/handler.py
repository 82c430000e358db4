"""Validate λ: is this upload a JPEG/PNG that the label backend accepts? Reads header bytes only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from labeler.aws import clients
from labeler.aws.objects import S3ObjectSource
from labeler.blueprint import Metric
from labeler.errors import ImageRejected
from labeler.events import UploadEvent
from labeler.models import ExecutionRef
from labeler.observability import count, logger, metrics
from labeler.pipeline import Progress, validate_object
from labeler.settings import get_settings
from labeler.wiring import daily_quota, results_writer

settings = get_settings()
#: Built once per process; behind fault injection only when LABELER_FAULT_* asks for it.
results = results_writer(settings)
quota = daily_quota(settings)


class ValidateRequest(BaseModel):
    upload: UploadEvent
    execution: ExecutionRef


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_parser(model=ValidateRequest)
def lambda_handler(event: ValidateRequest, context: LambdaContext) -> dict[str, Any]:
    ref = event.upload.object_ref()
    logger.set_correlation_id(ref.request_id)
    logger.append_keys(key=ref.key, bucket=ref.bucket)
    source = S3ObjectSource(clients.s3(), ref)
    backfill = event.upload.backfill
    progress = Progress(results, event.execution, event.upload.time, backfill.run if backfill else None)
    try:
        image = validate_object(source, progress, quota.for_run(backfill))
    except ImageRejected as rejection:
        logger.info("image rejected", code=rejection.code.value, reason=rejection.reason)
        raise
    finally:
        logger.append_keys(bytes_read=source.bytes_read)
    count(Metric.IMAGES_VALIDATED)
    logger.info(
        "image validated",
        format=image.format.value,
        width=image.width,
        height=image.height,
        duplicate=image.duplicate,
    )
    return image.model_dump(mode="json")
