"""Reading the results table for the CLI: one record, or a filtered list, newest first.

The pipeline writes with :class:`labeler.aws.results.ResultsRepository`; these are the operator's reads.
Records are read into :class:`RecordView`, which accepts any status (a pipeline newer than this CLI may
write statuses it does not know, such as PROCESSING) instead of failing the whole listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from labeler.aws.results import item_fields
from labeler.blueprint import RESULTS_TABLE
from labeler.models import UNOWNED, Label, ObjectRef, Timings
from labeler.pipeline import iso_timestamp

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: Outcomes after which the pipeline is done with a version (anything else, e.g. PROCESSING, is not).
TERMINAL_STATUSES = frozenset({"LABELED", "REJECTED", "FAILED"})
#: Statuses listed by the sparse ``FailuresByTime`` index.
FAILURE_STATUSES = frozenset({"REJECTED", "FAILED"})
#: The tombstone of a deleted upload: ``labeler list`` shows it only when asked for by status.
DELETED = "DELETED"


class RecordView(BaseModel):
    """One results-table record as the CLI shows it (see the module docstring for why it is lenient)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    key: str = Field(validation_alias=AliasChoices("image_name", "key"))
    owner: str
    status: str
    stage: str | None = None
    timestamp: str = ""
    uploaded_at: str | None = None
    bucket: str = ""
    size: int | None = None
    etag: str = ""
    version_id: str | None = None
    sequencer: str = ""
    execution_id: str | None = None
    original_name: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    labels: list[Label] = Field(default_factory=list)
    label_model_version: str | None = None
    label_backend: str | None = None
    timings: Timings = Field(default_factory=Timings)
    error_code: str | None = None
    reason: str | None = None
    error: str | None = None
    failed_state: str | None = None
    #: Epoch seconds after which DynamoDB's TTL removes the item (DELETED tombstones only).
    expires_at: int | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def deleted(self) -> bool:
        return self.status == DELETED

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> RecordView:
        return cls.model_validate(item_fields(item))


class RecordQuery(BaseModel):
    """What ``labeler list`` and ``labeler replay`` select by. Times compare with the record's Timestamp."""

    model_config = ConfigDict(frozen=True)

    status: str | None = None
    owner: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None


def owner_of(key: str) -> str:
    """The table's partition key for an object key (``uploads/<owner>/<name>``; anything else is unowned)."""
    return ObjectRef(bucket="", key=key).owner or UNOWNED


@dataclass
class _Expressions:
    """DynamoDB expressions that share one set of ``#name`` / ``:value`` placeholders."""

    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: str) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = {"S": value}
        return placeholder

    def time_range(self, query: RecordQuery, attribute: str = RESULTS_TABLE.time_attribute) -> list[str]:
        """At most one clause on the time (a key condition allows only one per key attribute)."""
        if not (query.since or query.until):
            return []
        timestamp = self.name(attribute)
        since = self.value(iso_timestamp(query.since)) if query.since else None
        until = self.value(iso_timestamp(query.until)) if query.until else None
        if since and until:
            return [f"{timestamp} BETWEEN {since} AND {until}"]
        return [f"{timestamp} >= {since}" if since else f"{timestamp} <= {until}"]

    def parameters(self, **expressions: list[str]) -> dict[str, Any]:
        """Request parameters: each non-empty clause list joined with AND, plus the placeholders."""
        parameters: dict[str, Any] = {
            kind: " AND ".join(clauses) for kind, clauses in expressions.items() if clauses
        }
        if self.names:
            parameters["ExpressionAttributeNames"] = self.names
        if self.values:
            parameters["ExpressionAttributeValues"] = self.values
        return parameters


@dataclass(frozen=True)
class Records:
    client: DynamoDBClient
    table: str

    def get(self, key: str) -> RecordView | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={RESULTS_TABLE.partition_key: {"S": owner_of(key)}, RESULTS_TABLE.sort_key: {"S": key}},
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else RecordView.from_item(dict(item))

    def find(self, query: RecordQuery) -> list[RecordView]:
        """Records matching ``query``, newest first, at most ``query.limit``.

        REJECTED / FAILED read the ``FailuresByTime`` index, an owner the ``OwnerByTime`` index: both
        newest first, so reading stops at the limit. Anything else scans the whole table and sorts it
        (fine locally and for small tables; on a large one prefer --status FAILED/REJECTED or --owner).
        DELETED tombstones are left out unless ``query.status`` is DELETED.
        """
        records: Iterable[RecordView]
        if query.status in FAILURE_STATUSES:
            e = _Expressions()
            key = [f"{e.name(RESULTS_TABLE.failures_partition_key)} = {e.value(str(query.status))}"]
            owner = [f"{e.name(RESULTS_TABLE.partition_key)} = {e.value(query.owner)}"] if query.owner else []
            key += e.time_range(query, RESULTS_TABLE.failures_sort_key)
            records = self._newest_first(RESULTS_TABLE.failures_index, e, key, owner)
        elif query.owner:
            e = _Expressions()
            key = [f"{e.name(RESULTS_TABLE.partition_key)} = {e.value(query.owner)}"]
            status = [f"{e.name('Status')} = {e.value(query.status)}"] if query.status else []
            records = self._newest_first(RESULTS_TABLE.by_time_index, e, key + e.time_range(query), status)
        else:
            records = sorted(self._scan(query), key=lambda record: record.timestamp, reverse=True)
        if query.status != DELETED:
            records = (record for record in records if not record.deleted)
        return list(islice(records, query.limit))

    def _newest_first(
        self, index: str, e: _Expressions, key: list[str], filters: list[str]
    ) -> Iterator[RecordView]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table,
            IndexName=index,
            ScanIndexForward=False,
            **e.parameters(KeyConditionExpression=key, FilterExpression=filters),
        )
        for page in pages:
            yield from (RecordView.from_item(dict(item)) for item in page.get("Items", []))

    def _scan(self, query: RecordQuery) -> Iterator[RecordView]:
        e = _Expressions()
        filters = [f"{e.name('Status')} = {e.value(query.status)}"] if query.status else []
        pages = self.client.get_paginator("scan").paginate(
            TableName=self.table, **e.parameters(FilterExpression=filters + e.time_range(query))
        )
        for page in pages:
            yield from (RecordView.from_item(dict(item)) for item in page.get("Items", []))
