"""The usage table: daily quota counters, one per (owner, UTC day) and one per UTC day for everyone,
and one item per charged image version.

A charge is one TransactWriteItems: put the image's charge item (only if it is not there yet) and
increment both counters, each update conditional on its limit. Concurrent uploads can never push a
counter past its limit, and an image charged once is never charged again, whatever retries,
timeouts or duplicate events do: either everything moves or nothing does, and the cancellation
reasons say why. Every item expires (TTL) a day after its day ends.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from labeler.aws.codes import cancellation_reasons, error_code
from labeler.aws.results import CONFLICT_RETRIES, DYNAMODB_THROTTLED
from labeler.blueprint import USAGE_TABLE
from labeler.errors import StorageThrottled
from labeler.models import Limit
from labeler.quota import day_ends

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True)
class UsageTable:
    client: DynamoDBClient
    table_name: str

    def _update(self, counter: str, limit: int, expires_at: int) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {USAGE_TABLE.partition_key: {"S": counter}},
            "UpdateExpression": "ADD #count :one SET #expires = if_not_exists(#expires, :expires)",
            "ExpressionAttributeNames": {
                "#count": USAGE_TABLE.count_attribute,
                "#expires": USAGE_TABLE.expires_attribute,
            },
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":expires": {"N": str(expires_at)}},
        }
        if limit:
            update["ConditionExpression"] = "attribute_not_exists(#count) OR #count < :limit"
            update["ExpressionAttributeValues"][":limit"] = {"N": str(limit)}
        return {"Update": update}

    def charge(self, image: str, owner: str, day: date, owner_limit: int, global_limit: int) -> Limit | None:
        """Count ``image`` (an object version) once for ``owner`` and for everyone on ``day``; the limit
        that refused it, or None (also when it was charged before). A limit of 0 is no limit (the
        counter still counts, for the operator's view of the day).
        """
        expires_at = int((day_ends(day) + timedelta(days=1)).timestamp())
        charged = {
            "Put": {
                "TableName": self.table_name,
                "Item": {
                    USAGE_TABLE.partition_key: {"S": f"image#{image}"},
                    USAGE_TABLE.expires_attribute: {"N": str(expires_at)},
                },
                "ConditionExpression": "attribute_not_exists(#counter)",
                "ExpressionAttributeNames": {"#counter": USAGE_TABLE.partition_key},
            }
        }
        items = [
            charged,
            self._update(f"owner#{owner}#{day.isoformat()}", owner_limit, expires_at),
            self._update(f"global#{day.isoformat()}", global_limit, expires_at),
        ]
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            except ClientError as error:
                code = error_code(error)
                reasons = cancellation_reasons(error)
                if code in DYNAMODB_THROTTLED or "ThrottlingError" in reasons:
                    raise StorageThrottled(f"DynamoDB answered {code} to a quota charge") from error
                if code != "TransactionCanceledException":
                    raise
                if reasons[:1] == ["ConditionalCheckFailed"]:
                    return None  # charged before: a retry, a duplicate event or a replay
                if reasons[1:2] == ["ConditionalCheckFailed"]:
                    return Limit.OWNER
                if reasons[2:3] == ["ConditionalCheckFailed"]:
                    return Limit.GLOBAL
                if "TransactionConflict" not in reasons or attempt == CONFLICT_RETRIES:
                    raise StorageThrottled(f"quota charge cancelled: {reasons}") from error
                time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not crypto
            else:
                return None
        raise AssertionError("unreachable")  # pragma: no cover
