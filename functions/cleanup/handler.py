"""Cleanup λ: an upload was deleted (S3 "Object Deleted" via EventBridge): forget its record and versions."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from labeler.events import ObjectDeletedEvent
from labeler.observability import logger
from labeler.pipeline import forget_deleted
from labeler.settings import get_settings
from labeler.wiring import object_versions, results_writer

#: Built once per process; behind fault injection only when LABELER_FAULT_* asks for it.
results = results_writer(get_settings())
versions = object_versions()


@logger.inject_lambda_context(clear_state=True)
@event_parser(model=ObjectDeletedEvent)
def lambda_handler(event: ObjectDeletedEvent, context: LambdaContext) -> dict[str, Any]:
    deletion = event.deletion()
    logger.set_correlation_id(deletion.request_id)
    logger.append_keys(key=deletion.key, deletion_type=deletion.deletion_type.value)
    outcome = forget_deleted(deletion, versions, results)
    logger.info("deletion handled", **outcome.model_dump())
    return outcome.model_dump(mode="json")
