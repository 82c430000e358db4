"""The results table: one item per uploaded object key, holding its latest terminal outcome.

With a label index (``labeler.aws.label_index``), every write of an outcome (anything but a PROCESSING
claim) goes in one transaction with the index changes it implies, so the index never disagrees with
the records: a refused write changes neither.

Keys: partition ``Owner`` (the uploader's identity, so a browser guest can be limited to its own
records with ``dynamodb:LeadingKeys``), sort ``ImageName`` (the object key). The sparse index
``FailuresByTime`` (``FailureStatus``, ``Timestamp``) lists REJECTED and FAILED items by time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic.alias_generators import to_pascal, to_snake

from labeler.aws.codes import cancellation_reasons, error_code
from labeler.aws.label_index import LabelIndexTable
from labeler.blueprint import RESULTS_TABLE
from labeler.errors import StorageThrottled
from labeler.label_index import change_for
from labeler.models import ImageStatus, ResultRecord
from labeler.pipeline import iso_timestamp, oldest_live_claim

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: DynamoDB's answers that mean "slow down" or "try again": retried as StorageThrottled.
DYNAMODB_THROTTLED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
}
#: Concurrent transactions on the same items cancel each other (TransactionConflict), and a label
#: index write is refused when another writer changed the image's manifest first: retried this often.
CONFLICT_RETRIES = 5
_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()

# A write wins when there is no item yet, when it is for a newer version of the object (greater
# sequencer), or when it is for the same version whose stored status is still open: FAILED (a replay)
# or PROCESSING. PROCESSING is a claim: only its own execution may write over it until it expires (an
# execution that died leaves it behind), so a duplicate event does not label the version again. A
# newer sequencer with the same content (ETag) does not win over a live claim either, nor over an
# outcome a backfill wrote: a backfill's sequencer is one of its own making (S3 tells it none), and
# the upload event of the version it labeled is not a newer version. LABELED and REJECTED outcomes of
# a version are final: duplicates and late events leave them alone.
_LIVE_CLAIM_OF_ANOTHER = "(#status = :processing AND #exec <> :exec AND #ts >= :live_since)"
_WRITE_CONDITION = (
    "attribute_not_exists(#sk)"
    f" OR (#seq < :seq AND NOT (#etag = :etag AND ({_LIVE_CLAIM_OF_ANOTHER}"
    " OR (attribute_exists(#backfill) AND #status IN (:labeled, :rejected)))))"
    " OR (#seq = :seq AND (#status = :failed"
    " OR (#status = :processing AND (#exec = :exec OR #ts < :live_since))))"
)
#: A replacement wins only over exactly the record its decision read (or over none).
_UNCHANGED_CONDITION = "#exec = :read_exec AND #ts = :read_ts AND #status = :read_status"


#: Attribute names that plain PascalCase would spell differently from AWS's usage.
_ATTRIBUTE_NAMES = {"etag": "ETag"}
_FIELD_NAMES = {attribute: field for field, attribute in _ATTRIBUTE_NAMES.items()}


def _attribute(field: str) -> str:
    return _ATTRIBUTE_NAMES.get(field) or to_pascal(field)


def _field(attribute: str) -> str:
    return _FIELD_NAMES.get(attribute) or to_snake(attribute)


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(round(value, 4)))
    if isinstance(value, dict):
        return {_attribute(k): _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {_field(k): _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def record_to_item(record: ResultRecord) -> dict[str, Any]:
    """The DynamoDB item (plain Python values, Decimal numbers, PascalCase attribute names)."""
    item: dict[str, Any] = _to_dynamo(record.model_dump(mode="json"))
    if record.status.is_failure:
        item[RESULTS_TABLE.failures_partition_key] = record.status.value
    return item


def item_to_record(item: dict[str, Any]) -> ResultRecord:
    plain = _from_dynamo({k: v for k, v in item.items() if k != RESULTS_TABLE.failures_partition_key})
    return ResultRecord.model_validate(plain)


@dataclass(frozen=True)
class ResultsRepository:
    client: DynamoDBClient
    table_name: str
    #: Kept in step with every outcome written; None for readers, which write nothing.
    label_index: LabelIndexTable | None = None

    def put_if_newer(self, record: ResultRecord) -> bool:
        """Write ``record`` unless a newer or final outcome for the same object, or another execution's
        live claim on it, is stored. True if written."""
        return self._put(
            record,
            _WRITE_CONDITION,
            names={
                "#sk": RESULTS_TABLE.sort_key,
                "#seq": "Sequencer",
                "#etag": "ETag",
                "#status": "Status",
                "#exec": "ExecutionId",
                "#ts": "Timestamp",
                "#backfill": "BackfillRun",
            },
            values={
                ":seq": {"S": record.sequencer},
                ":etag": {"S": record.etag},
                ":exec": {"S": record.execution_id},
                ":live_since": {"S": iso_timestamp(oldest_live_claim(record))},
                ":failed": {"S": ImageStatus.FAILED.value},
                ":processing": {"S": ImageStatus.PROCESSING.value},
                ":labeled": {"S": ImageStatus.LABELED.value},
                ":rejected": {"S": ImageStatus.REJECTED.value},
            },
        )

    def put_replacing(self, record: ResultRecord, previous: ResultRecord | None) -> bool:
        """Write ``record`` only if the stored record is still ``previous`` (None: there is none), as
        read when deciding to write it. True if written."""
        if previous is None:
            return self._put(record, "attribute_not_exists(#sk)", names={"#sk": RESULTS_TABLE.sort_key})
        return self._put(
            record,
            _UNCHANGED_CONDITION,
            names={"#exec": "ExecutionId", "#ts": "Timestamp", "#status": "Status"},
            values={
                ":read_exec": {"S": previous.execution_id},
                ":read_ts": {"S": previous.timestamp},
                ":read_status": {"S": previous.status.value},
            },
        )

    def _put(
        self,
        record: ResultRecord,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any] | None = None,
    ) -> bool:
        put: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": {k: _SERIALIZER.serialize(v) for k, v in record_to_item(record).items()},
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            **({"ExpressionAttributeValues": values} if values else {}),
        }
        if self.label_index is not None and record.status is not ImageStatus.PROCESSING:
            return self._transact_indexed({"Put": put}, record, self.label_index, always=True) is True
        try:
            self.client.put_item(**put)
        except ClientError as error:
            code = error_code(error)
            if code == "ConditionalCheckFailedException":
                return False
            if code in DYNAMODB_THROTTLED:
                raise StorageThrottled(f"DynamoDB answered {code}") from error
            raise
        return True

    def reindex(self, record: ResultRecord) -> bool | None:
        """Bring the label index in step with ``record`` as read from the table (an index built after
        the records, or repaired): its changes in one transaction that also checks the record is still
        the one read. True when written, None when the index already says what ``record`` says, False
        when the record changed since it was read (whoever changed it indexed it)."""
        if self.label_index is None:
            raise ValueError("this repository has no label index")
        check = {
            "ConditionCheck": {
                "TableName": self.table_name,
                "Key": {
                    RESULTS_TABLE.partition_key: {"S": record.owner},
                    RESULTS_TABLE.sort_key: {"S": record.image_name},
                },
                "ConditionExpression": _UNCHANGED_CONDITION,
                "ExpressionAttributeNames": {"#exec": "ExecutionId", "#ts": "Timestamp", "#status": "Status"},
                "ExpressionAttributeValues": {
                    ":read_exec": {"S": record.execution_id},
                    ":read_ts": {"S": record.timestamp},
                    ":read_status": {"S": record.status.value},
                },
            }
        }
        return self._transact_indexed(check, record, self.label_index, always=False)

    def _transact_indexed(
        self, first: dict[str, Any], record: ResultRecord, index: LabelIndexTable, *, always: bool
    ) -> bool | None:
        """``first`` (the record's conditional put or check) and the index changes ``record`` makes, in
        one transaction computed from the image's manifest as read; again from a fresh read when another
        writer changed the manifest meanwhile. Not ``always``: None, and nothing written, when there is
        no index change. False when ``first``'s condition fails."""
        for attempt in range(CONFLICT_RETRIES + 1):
            change = change_for(index.manifest(record.owner, record.image_name), record)
            if not (always or change.changed):
                return None
            try:
                actions: list[Any] = [first, *index.actions(change, record)]
                self.client.transact_write_items(TransactItems=actions)
            except ClientError as error:
                code, reasons = error_code(error), cancellation_reasons(error)
                if code in DYNAMODB_THROTTLED or "ThrottlingError" in reasons:
                    raise StorageThrottled(f"DynamoDB answered {code} to an indexed write") from error
                if code != "TransactionCanceledException":
                    raise
                if reasons[:1] == ["ConditionalCheckFailed"]:
                    return False  # a newer or final outcome, or another execution's claim, is stored
                retried = reasons[1:2] == ["ConditionalCheckFailed"] or "TransactionConflict" in reasons
                if not retried or attempt == CONFLICT_RETRIES:
                    raise StorageThrottled(f"indexed write cancelled: {reasons}") from error
                time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not crypto
            else:
                return True
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, owner: str, image_name: str) -> ResultRecord | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key={RESULTS_TABLE.partition_key: {"S": owner}, RESULTS_TABLE.sort_key: {"S": image_name}},
            ConsistentRead=True,
        )
        raw = response.get("Item")
        return None if raw is None else raw_item_to_record(raw)

    def statuses(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[ImageStatus, str]]:
        """Status and Timestamp of the stored records among ``keys`` (owner, image name); absent keys
        are left out. For pollers: one consistent BatchGetItem per 100 keys, only these attributes."""
        partition, sort = RESULTS_TABLE.partition_key, RESULTS_TABLE.sort_key
        return {
            (raw[partition]["S"], raw[sort]["S"]): (ImageStatus(raw["Status"]["S"]), raw["Timestamp"]["S"])
            for raw in self._batch_get(keys, (partition, sort, "Status", "Timestamp"))
        }

    def records(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], ResultRecord]:
        """The stored records among ``keys`` (owner, image name), whole; absent keys are left out."""
        found = (raw_item_to_record(raw) for raw in self._batch_get(keys))
        return {(record.owner, record.image_name): record for record in found}

    def _batch_get(self, keys: Iterable[tuple[str, str]], attributes: tuple[str, ...] = ()) -> Iterator[Any]:
        """Raw items of ``keys`` (each asked once), read consistently, 100 per BatchGetItem; only
        ``attributes`` when given. Keys DynamoDB leaves unprocessed (it does so when throttled) are
        asked again after a short, growing pause."""
        partition, sort = RESULTS_TABLE.partition_key, RESULTS_TABLE.sort_key
        pending: list[Any] = [
            {partition: {"S": owner}, sort: {"S": image_name}} for owner, image_name in dict.fromkeys(keys)
        ]
        request: dict[str, Any] = {"ConsistentRead": True}
        if attributes:
            names = {f"#a{index}": name for index, name in enumerate(attributes)}
            request |= {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
        unprocessed_rounds = 0
        while pending:
            batch, pending = pending[:_BATCH_GET_LIMIT], pending[_BATCH_GET_LIMIT:]
            asked: Any = {self.table_name: {"Keys": batch, **request}}
            response = self.client.batch_get_item(RequestItems=asked)
            yield from response.get("Responses", {}).get(self.table_name, [])
            unprocessed: list[Any] = (
                response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])  # type: ignore[call-overload]
            )
            if unprocessed:
                unprocessed_rounds += 1
                time.sleep(min(0.05 * 2**unprocessed_rounds, 2.0))
                pending.extend(unprocessed)


def raw_item_to_record(raw: dict[str, Any]) -> ResultRecord:
    """A record from a raw DynamoDB item (``{"Status": {"S": ...}}``)."""
    return item_to_record({k: _DESERIALIZER.deserialize(v) for k, v in raw.items()})


#: Most keys one BatchGetItem may ask for.
_BATCH_GET_LIMIT = 100


def item_fields(item: dict[str, Any]) -> dict[str, Any]:
    """A raw DynamoDB item (``{"Status": {"S": ...}}``) as snake_case plain values, not validated.

    For readers that must show records written by a newer pipeline than their own (the CLI): they
    validate these fields against a lenient model instead of :class:`ResultRecord`.
    """
    plain = {
        k: _DESERIALIZER.deserialize(v) for k, v in item.items() if k != RESULTS_TABLE.failures_partition_key
    }
    fields: dict[str, Any] = _from_dynamo(plain)
    return fields
