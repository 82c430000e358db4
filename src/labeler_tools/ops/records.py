"""Reading the results table for the CLI: one record, or a filtered list, newest first; and the label
index (:class:`labeler.aws.label_index.LabelIndexTable`): the labels with their image counts, and the
images a label finds.

The pipeline writes with :class:`labeler.aws.results.ResultsRepository`; these are the operator's reads.
Items are read as the pipeline's own :class:`labeler.models.ResultRecord`. An item that is not one (a
newer pipeline wrote a status or a field this CLI does not know, or someone wrote it by hand) is read
as an :class:`UnreadableRecord`: listed and shown with what is wrong with it, never the end of a whole
listing, and never trusted (replay skips it, upload --wait does not count it LABELED; delete still
deletes its object).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice, takewhile
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, ValidationError

from labeler.aws.results import item_fields
from labeler.blueprint import RESULTS_TABLE
from labeler.models import UNOWNED, ImageStatus, ObjectRef, ResultRecord
from labeler.pipeline import iso_timestamp

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from labeler.aws.label_index import IndexEntry, LabelIndexTable

#: Outcomes after which the pipeline is done with a version (PROCESSING, or a status this CLI does not
#: know, is not one).
TERMINAL_STATUSES = frozenset({ImageStatus.LABELED, ImageStatus.REJECTED, ImageStatus.FAILED})
#: Statuses listed by the sparse ``FailuresByTime`` index.
FAILURE_STATUSES = frozenset(status for status in ImageStatus if status.is_failure)
#: Validation problems an unreadable record names (the rest are counted).
_PROBLEMS_SHOWN = 3


class UnreadableRecord(BaseModel):
    """A results-table item that is no :class:`ResultRecord` of this version, with what it has."""

    model_config = ConfigDict(frozen=True)

    owner: str
    image_name: str
    #: As written: a status this CLI does not know, or one of its own when another field is the problem.
    status: str
    timestamp: str
    #: What does not validate, one line: ``status: Input should be ...; execution_id: Field required``.
    problem: str
    #: Every attribute as read (snake_case, plain JSON values).
    fields: dict[str, Any]

    @property
    def original_name(self) -> str | None:
        name = self.fields.get("original_name")
        return name if isinstance(name, str) else None


#: A results-table item as read: the pipeline's record, or one this CLI cannot read.
StoredRecord: TypeAlias = ResultRecord | UnreadableRecord


def _problem(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in problem['loc']) or 'item'}: {problem['msg']}"
        for problem in error.errors()
    ]
    more = len(problems) - _PROBLEMS_SHOWN
    return "; ".join(problems[:_PROBLEMS_SHOWN]) + (f" (+{more} more)" if more > 0 else "")


def read_item(item: dict[str, Any]) -> StoredRecord:
    """A raw DynamoDB item (``{"Status": {"S": ...}}``) as a ResultRecord, or as an UnreadableRecord."""
    fields = item_fields(item)
    try:
        return ResultRecord.model_validate(fields)
    except ValidationError as error:
        plain: dict[str, Any] = json.loads(json.dumps(fields, default=str))  # sets, binary: JSON values
        return UnreadableRecord(
            owner=str(plain.get("owner", "")),
            image_name=str(plain.get("image_name", "")),
            status=str(plain.get("status", "")),
            timestamp=str(plain.get("timestamp", "")),
            problem=_problem(error),
            fields=plain,
        )


def image_status(value: str | None) -> ImageStatus | None:
    """``value`` as a status this CLI knows, else None (no record, or a status of a newer pipeline)."""
    if value is None:
        return None
    try:
        return ImageStatus(value)
    except ValueError:
        return None


def status_of(record: StoredRecord | None) -> ImageStatus | None:
    """The record's status, when there is a record and its status is one this CLI knows."""
    return None if record is None else image_status(record.status)


def is_final(record: StoredRecord) -> bool:
    """The pipeline is done with this version (LABELED, REJECTED or FAILED), readable or not."""
    return record.status in TERMINAL_STATUSES


def is_labeled(record: StoredRecord | None) -> bool:
    return isinstance(record, ResultRecord) and record.status is ImageStatus.LABELED


class RecordQuery(BaseModel):
    """What ``labeler list`` and ``labeler replay`` select by. Times compare with the record's Timestamp."""

    model_config = ConfigDict(frozen=True)

    status: ImageStatus | None = None
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

    def get(self, key: str) -> StoredRecord | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={RESULTS_TABLE.partition_key: {"S": owner_of(key)}, RESULTS_TABLE.sort_key: {"S": key}},
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else read_item(dict(item))

    def find(self, query: RecordQuery) -> list[StoredRecord]:
        """Records matching ``query``, newest first, at most ``query.limit``.

        REJECTED / FAILED read the ``FailuresByTime`` index, an owner the ``OwnerByTime`` index: both
        newest first, so reading stops at the limit. Anything else scans the whole table and sorts it
        (fine locally and for small tables; on a large one prefer --status FAILED/REJECTED or --owner).
        DELETED tombstones are left out unless ``query.status`` is DELETED.
        """
        records: Iterable[StoredRecord]
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
        if query.status is not ImageStatus.DELETED:
            records = (record for record in records if record.status != ImageStatus.DELETED)
        return list(islice(records, query.limit))

    def _newest_first(
        self, index: str, e: _Expressions, key: list[str], filters: list[str]
    ) -> Iterator[StoredRecord]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table,
            IndexName=index,
            ScanIndexForward=False,
            **e.parameters(KeyConditionExpression=key, FilterExpression=filters),
        )
        for page in pages:
            yield from (read_item(dict(item)) for item in page.get("Items", []))

    def _scan(self, query: RecordQuery) -> Iterator[StoredRecord]:
        e = _Expressions()
        filters = [f"{e.name('Status')} = {e.value(query.status)}"] if query.status else []
        pages = self.client.get_paginator("scan").paginate(
            TableName=self.table, **e.parameters(FilterExpression=filters + e.time_range(query))
        )
        for page in pages:
            yield from (read_item(dict(item)) for item in page.get("Items", []))


class LabelQuery(BaseModel):
    """What ``labeler list --label`` selects by. Times compare with the image's upload time."""

    model_config = ConfigDict(frozen=True)

    #: A label's name in any spelling; an image is found by its own labels and their parents.
    label: str
    owner: str | None = None
    #: Percent, 0-100.
    min_confidence: float = 0.0
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None


def labeled_images(index: LabelIndexTable, query: LabelQuery) -> list[IndexEntry]:
    """Images ``query.label`` finds, newest upload first, at most ``query.limit``: one owner's, or
    every owner's (no ``query.owner``). Reading stops at the limit, or at the first image uploaded
    before ``query.since`` (stored times are one format, so string order is time order)."""
    since = iso_timestamp(query.since) if query.since else None
    until = iso_timestamp(query.until) if query.until else None
    found: Iterator[IndexEntry] = index.images(query.label, query.owner, query.min_confidence)
    if since:
        found = takewhile(lambda entry: entry.uploaded_at >= since, found)
    if until:
        found = (entry for entry in found if entry.uploaded_at <= until)
    return list(islice(found, query.limit))
