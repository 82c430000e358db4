"""The label index on moto: after any mix of outcomes (duplicates, newer and older versions, relabels,
failures, claims, deletions, concurrent writers), its entries and counts equal a recomputation from the
outcomes the results table accepted, and a write the table refuses or that fails changes neither."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from labeler.aws.label_index import (
    LabelIndexTable,
    counts_partition,
    entries_partition,
    manifests_partition,
)
from labeler.aws.results import ResultsRepository
from labeler.blueprint import LABEL_INDEX
from labeler.errors import StorageThrottled
from labeler.events import normalize_sequencer
from labeler.label_index import entry_sort, indexed_labels
from labeler.models import ImageStatus, Label, ResultRecord, Stage
from labeler_tools.deployment import LocalResources
from labeler_tools.local.provision import create_labels_table
from labeler_tools.local.server import LocalAws

pytestmark = pytest.mark.integration

#: Labels with parents as the offline model's hierarchy gives them.
POOL = [
    Label(name="Tabby Cat", confidence=0, parents=["Cat", "Pet", "Animal"]),
    Label(name="Egyptian Mau", confidence=0, parents=["Cat", "Pet", "Animal"]),
    Label(name="Beagle", confidence=0, parents=["Dog", "Pet", "Animal"]),
    Label(name="Espresso", confidence=0, parents=["Coffee", "Beverage", "Food"]),
    Label(name="Sports Car", confidence=0, parents=["Car", "Vehicle"]),
]
OUTCOMES = [ImageStatus.LABELED] * 4 + [ImageStatus.PROCESSING, ImageStatus.REJECTED, ImageStatus.FAILED]


@pytest.fixture
def repository(local_aws: LocalAws, stack: LocalResources) -> ResultsRepository:
    """The session's results table, with a label index of this test's own (counts over everyone are
    then this test's)."""
    client = local_aws.session().client("dynamodb")
    name = f"labels-{uuid.uuid4().hex[:8]}"
    create_labels_table(client, name)
    return ResultsRepository(client, stack.results_table, LabelIndexTable(client, name))


def outcome(owner: str, image: int, version: int, status: ImageStatus, rng: random.Random) -> ResultRecord:
    labels = [
        label.model_copy(update={"confidence": rng.choice([35.5, 62.25, 80.0, 97.75])})
        for label in rng.sample(POOL, rng.randint(1, 3))
    ]
    return ResultRecord(
        owner=owner,
        image_name=f"uploads/{owner}/{image}.jpg",
        bucket="b",
        status=status,
        stage=Stage.LABELING if status is ImageStatus.PROCESSING else None,
        timestamp="2026-01-01T00:00:00.000Z",
        uploaded_at=f"2026-01-{version + 1:02}T00:00:00Z",
        size=1,
        etag=f"e{version}",
        sequencer=normalize_sequencer(f"{version:02X}"),
        execution_id=f"x{version}",
        labels=labels if status is ImageStatus.LABELED else [],
        original_name=f"photo-{image}.jpg",
    )


def index_items(repository: ResultsRepository) -> list[dict[str, Any]]:
    assert repository.label_index is not None
    client, name = repository.client, repository.label_index.table_name
    return [item for page in client.get_paginator("scan").paginate(TableName=name) for item in page["Items"]]


def assert_index_equals_recomputation(
    repository: ResultsRepository, owner: str, outcomes: dict[str, ResultRecord]
) -> None:
    """``outcomes``: per image, the last outcome (not PROCESSING) the table accepted."""
    expected_entries = {
        (entries_partition(owner, key), entry_sort(record)): label.confidence
        for record in outcomes.values()
        for key, label in indexed_labels(record).items()
    }
    expected_counts = Counter(key for record in outcomes.values() for key in indexed_labels(record))
    items = index_items(repository)
    partition, sort = LABEL_INDEX.partition_key, LABEL_INDEX.sort_key
    entries = {
        (item[partition]["S"], item[sort]["S"]): float(item["Confidence"]["N"])
        for item in items
        if LABEL_INDEX.entries_infix in item[partition]["S"]
    }
    assert entries == expected_entries
    for counts in (counts_partition(owner), counts_partition(None)):
        found = {
            item[sort]["S"]: int(item[LABEL_INDEX.count_attribute]["N"])
            for item in items
            if item[partition]["S"] == counts
        }
        assert {key: n for key, n in found.items() if n} == dict(expected_counts)
        assert all(n >= 0 for n in found.values())
    manifests = {item[sort]["S"] for item in items if item[partition]["S"] == manifests_partition(owner)}
    assert manifests == {name for name, record in outcomes.items() if indexed_labels(record)}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_after_a_mixed_run_the_index_equals_a_recomputation_from_the_accepted_outcomes(
    repository: ResultsRepository, owner: str, seed: int
) -> None:
    rng = random.Random(seed)
    outcomes: dict[str, ResultRecord] = {}
    versions = dict.fromkeys(range(3), 1)
    for _ in range(60):
        image = rng.randrange(3)
        move = rng.random()
        if move < 0.25:  # a newer version
            versions[image] += 1
        version = versions[image] - (1 if move > 0.9 and versions[image] > 1 else 0)  # some late events
        record = outcome(owner, image, version, rng.choice(OUTCOMES), rng)
        if rng.random() < 0.15 and record.image_name in outcomes:
            record = outcomes[record.image_name]  # a duplicate of what is stored
        if repository.put_if_newer(record) and record.status is not ImageStatus.PROCESSING:
            outcomes[record.image_name] = record
        stored = repository.get(owner, record.image_name)
        assert stored is not None
        if stored.status is not ImageStatus.PROCESSING:
            assert outcomes[record.image_name] == stored  # the model of the test agrees with the table
    assert any(indexed_labels(record) for record in outcomes.values())
    assert_index_equals_recomputation(repository, owner, outcomes)


def test_concurrent_outcomes_of_an_image_leave_the_index_as_the_newest_says(
    repository: ResultsRepository, owner: str
) -> None:
    rng = random.Random(7)
    records = [
        outcome(owner, image, version, ImageStatus.LABELED, rng)
        for image in range(4)
        for version in range(1, 11)
    ]
    rng.shuffle(records)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(repository.put_if_newer, records))
    newest = {record.image_name: record for record in sorted(records, key=lambda record: record.sequencer)}
    for name, record in newest.items():
        assert repository.get(owner, name) == record  # the newest version wins whatever the order
    assert_index_equals_recomputation(repository, owner, newest)


def test_a_refused_outcome_changes_no_entry_and_no_count(repository: ResultsRepository, owner: str) -> None:
    rng = random.Random(3)
    newer = outcome(owner, 0, 5, ImageStatus.LABELED, rng)
    assert repository.put_if_newer(newer)
    before = index_items(repository)
    older = outcome(owner, 0, 2, ImageStatus.LABELED, rng)
    assert not repository.put_if_newer(older)
    assert index_items(repository) == before


def test_a_failed_index_write_writes_no_record_either(
    local_aws: LocalAws, stack: LocalResources, owner: str
) -> None:
    client = local_aws.session().client("dynamodb")
    broken = ResultsRepository(client, stack.results_table, LabelIndexTable(client, "no-such-labels-table"))
    record = outcome(owner, 0, 1, ImageStatus.LABELED, random.Random(1))
    with pytest.raises((StorageThrottled, client.exceptions.ResourceNotFoundException)):
        broken.put_if_newer(record)
    assert ResultsRepository(client, stack.results_table).get(owner, record.image_name) is None
