"""``labeler reindex``: the label index brought in step with the results records.

The store step keeps the index in step with every outcome it writes. Records written before the
index existed (a deployment upgraded to a version with it) are found by nothing until they are
reindexed; so is anything a repair needs. Each record is indexed in a transaction that also checks it
is still the record read, so a reindex running alongside the pipeline never puts back an outcome the
store step has replaced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import islice

from labeler.aws.results import ResultsRepository
from labeler.blueprint import RESULTS_TABLE
from labeler.models import ImageStatus, ResultRecord
from labeler_tools.ops.records import UnreadableRecord, read_item
from labeler_tools.ops.target import Target

#: Records reindexed at once: each is a read of its manifest and, when it changed, one transaction.
WORKERS = 8


@dataclass(frozen=True)
class ReindexSummary:
    """What a reindex found, per record read."""

    records: int
    #: The index changed to say what the record says.
    indexed: int
    #: The index said so already.
    unchanged: int
    #: The record changed after it was read; the write that changed it indexed it.
    changed_meanwhile: int
    #: Labeling under way (PROCESSING): its outcome will index it.
    in_progress: int
    #: Items that are not image records: nothing to index them under.
    unreadable: int


def _records(target: Target, owner: str | None) -> Iterator[ResultRecord | UnreadableRecord]:
    """Every record (a Scan), or one owner's (a Query of its partition)."""
    client = target.dynamodb
    if owner is None:
        pages = client.get_paginator("scan").paginate(TableName=target.results_table)
    else:
        pages = client.get_paginator("query").paginate(
            TableName=target.results_table,
            KeyConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": RESULTS_TABLE.partition_key},
            ExpressionAttributeValues={":owner": {"S": owner}},
        )
    for page in pages:
        yield from (read_item(dict(item)) for item in page.get("Items", []))


def reindex(
    target: Target, owner: str | None = None, on_record: Callable[[], None] = lambda: None
) -> ReindexSummary:
    """Reindex every record of ``target`` (or of ``owner``), ``WORKERS`` at a time; ``on_record`` is
    called after each."""
    repository = target.results()
    if repository.label_index is None:
        target.label_index()  # raises: the deployment has no index
    counts = dict.fromkeys(("indexed", "unchanged", "changed_meanwhile", "in_progress", "unreadable"), 0)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        # A page at a time: a table of millions is never held in memory.
        records = _records(target, owner)
        while page := list(islice(records, 100)):
            for outcome in pool.map(partial(_reindex_one, repository), page):
                counts[outcome] += 1
                on_record()
    return ReindexSummary(records=sum(counts.values()), **counts)


def _reindex_one(repository: ResultsRepository, record: ResultRecord | UnreadableRecord) -> str:
    if isinstance(record, UnreadableRecord):
        return "unreadable"
    if record.status is ImageStatus.PROCESSING:
        return "in_progress"
    written = repository.reindex(record)
    return {True: "indexed", None: "unchanged", False: "changed_meanwhile"}[written]
