"""Store λ: write the image's terminal outcome (LABELED, REJECTED or FAILED) to the results table."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from labeler.blueprint import Metric
from labeler.events import PipelineState
from labeler.models import ExecutionRef, ImageStatus
from labeler.observability import count, logger, metrics
from labeler.pipeline import record_outcome
from labeler.settings import get_settings
from labeler.wiring import results_writer

_OUTCOME_METRICS = {
    ImageStatus.LABELED: Metric.IMAGES_LABELED,
    ImageStatus.REJECTED: Metric.IMAGES_REJECTED,
    ImageStatus.FAILED: Metric.IMAGES_FAILED,
}


#: Built once per process; behind fault injection only when LABELER_FAULT_* asks for it.
results = results_writer(get_settings())


class StoreRequest(BaseModel):
    state: PipelineState
    execution: ExecutionRef


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_parser(model=StoreRequest)
def lambda_handler(event: StoreRequest, context: LambdaContext) -> dict[str, Any]:
    ref = event.state.object_ref()
    logger.set_correlation_id(ref.request_id)
    logger.append_keys(key=ref.key, execution_id=event.execution.id)
    outcome = record_outcome(event.state, event.execution, results)
    if outcome.written:
        count(_OUTCOME_METRICS[outcome.status])
    logger.info("outcome recorded", status=outcome.status.value, written=outcome.written)
    return outcome.model_dump(mode="json")
