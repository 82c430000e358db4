"""Backfill λ: the two steps of a backfill item around its pipeline execution.

``plan`` decides one listed object by the run's mode and claims its record for the pipeline execution
the item then starts; ``settle`` reads the outcome of an item whose pipeline execution failed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from labeler.backfill import BackfillRun, ListedObject, plan_item, settle
from labeler.blueprint import Metric
from labeler.errors import BackfillItemFailed
from labeler.observability import count, logger, metrics
from labeler.settings import get_settings
from labeler.wiring import execution_lookup, object_heads, record_claims

settings = get_settings()
#: Built once per process.
records = record_claims(settings)
heads = object_heads()
executions = execution_lookup()


class BackfillRequest(BaseModel):
    action: Literal["plan", "settle"]
    run: BackfillRun
    item: ListedObject
    #: The pipeline state machine's ARN (plan: the execution it claims for is one of its).
    pipeline: str = ""


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_parser(model=BackfillRequest)
def lambda_handler(event: BackfillRequest, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(run=event.run.name, key=event.item.key, action=event.action)
    if event.action == "settle":
        try:
            status = settle(event.run, event.item.key, records)
        except BackfillItemFailed:
            count(Metric.BACKFILL_ITEMS_FAILED)
            raise
        logger.info("item settled", status=status.value)
        return {"key": event.item.key, "status": status.value}
    planned = plan_item(
        event.item,
        event.run,
        event.pipeline,
        heads=heads,
        records=records,
        executions=executions,
        label_settings=settings.label_settings,
        now=datetime.now(UTC),
    )
    logger.info("item planned", label=planned.label, reason=planned.reason, execution=planned.name)
    return planned.model_dump(mode="json")
