"""The label index's rules (labeler.label_index): the keys a record is found by, and the exact writes
that bring the index from one record of an image to the next."""

from __future__ import annotations

from typing import Any

import pytest

from labeler.aws.label_index import LabelIndexTable
from labeler.label_index import (
    MAX_KEYS_PER_IMAGE,
    IndexedLabel,
    Manifest,
    change_for,
    entry_sort,
    indexed_labels,
    label_key,
)
from labeler.models import ImageStatus, Label, ResultRecord


def record(
    *labels: Label, status: ImageStatus = ImageStatus.LABELED, uploaded_at: str = "2026-01-01T00:00:00Z"
) -> ResultRecord:
    return ResultRecord(
        owner="us-east-1:guest",
        image_name="uploads/us-east-1:guest/a.jpg",
        bucket="b",
        status=status,
        timestamp="2026-01-01T00:00:01.000Z",
        uploaded_at=uploaded_at,
        size=1,
        etag="e",
        sequencer="0A",
        execution_id="x",
        labels=list(labels),
        original_name="cat.jpg",
    )


TABBY = Label(name="Tabby Cat", confidence=91.5, parents=["Cat", "Pet", "Animal"])
MAU = Label(name="Egyptian Mau", confidence=40.25, parents=["Cat", "Pet", "Animal"])
BEAGLE = Label(name="Beagle", confidence=60.0, parents=["Dog", "Pet", "Animal"])


def keys(labels: dict[str, IndexedLabel]) -> dict[str, tuple[str, float, bool]]:
    return {key: (label.name, label.confidence, label.direct) for key, label in labels.items()}


def test_a_label_key_ignores_case_and_spacing() -> None:
    assert label_key("  Tabby   Cat ") == label_key("tabby cat") == "tabby cat"


def test_an_image_is_found_by_its_labels_and_their_parents_at_the_best_confidence_giving_each() -> None:
    assert keys(indexed_labels(record(TABBY, MAU, BEAGLE))) == {
        "tabby cat": ("Tabby Cat", 91.5, True),
        "beagle": ("Beagle", 60.0, True),
        "egyptian mau": ("Egyptian Mau", 40.25, True),
        "cat": ("Cat", 91.5, False),
        "pet": ("Pet", 91.5, False),
        "animal": ("Animal", 91.5, False),
        "dog": ("Dog", 60.0, False),
    }


def test_a_key_that_is_both_a_label_and_a_parent_is_a_label_of_its_own_named_as_the_label_spells_it() -> None:
    cat = Label(name="Cat", confidence=30.0)
    found = indexed_labels(record(Label(name="Tabby Cat", confidence=80.0, parents=["cat"]), cat))
    assert keys(found)["cat"] == ("Cat", 80.0, True)


@pytest.mark.parametrize("status", [ImageStatus.REJECTED, ImageStatus.FAILED, ImageStatus.DELETED])
def test_only_a_labeled_record_is_found_by_anything(status: ImageStatus) -> None:
    assert indexed_labels(record(TABBY, status=status)) == {}


def test_an_image_is_found_by_at_most_sixteen_keys_the_most_confident_first() -> None:
    labels = [Label(name=f"Thing {n:02}", confidence=50 - n, parents=[f"Kind {n:02}"]) for n in range(12)]
    found = indexed_labels(record(*labels))
    assert len(found) == MAX_KEYS_PER_IMAGE == 16
    # A confident label's parent outranks a doubtful label; on a tie the image's own label comes first.
    assert list(found) == [key for n in range(8) for key in (f"thing {n:02}", f"kind {n:02}")]


def test_categories_are_keys_like_parents_after_them_on_a_tie() -> None:
    espresso = Label(name="Espresso", confidence=90.0, parents=["Coffee"], categories=["Food and Beverage"])
    cup = Label(name="Cup", confidence=95.0, categories=["Kitchen"])
    found = indexed_labels(record(espresso, cup))
    assert keys(found) == {
        "cup": ("Cup", 95.0, True),
        "kitchen": ("Kitchen", 95.0, False),
        "espresso": ("Espresso", 90.0, True),
        "coffee": ("Coffee", 90.0, False),
        "food and beverage": ("Food and Beverage", 90.0, False),
    }
    assert list(found) == ["cup", "kitchen", "espresso", "coffee", "food and beverage"]


def test_a_label_of_the_images_own_stays_its_own_when_a_later_label_has_it_as_a_parent() -> None:
    cat = Label(name="Cat", confidence=30.0)
    found = indexed_labels(record(cat, Label(name="Tabby Cat", confidence=80.0, parents=["cat"])))
    assert keys(found)["cat"] == ("Cat", 80.0, True)


def test_a_parent_is_named_as_the_first_label_giving_it_spells_it() -> None:
    tabby = Label(name="Tabby Cat", confidence=80.0, parents=["Cat"])
    mau = Label(name="Egyptian Mau", confidence=60.0, parents=["CAT"])
    assert keys(indexed_labels(record(tabby, mau)))["cat"] == ("Cat", 80.0, False)


def test_a_blank_parent_is_skipped_and_the_parents_after_it_count() -> None:
    tabby = Label(name="Tabby Cat", confidence=0.5, parents=["  ", "Cat"])
    assert keys(indexed_labels(record(tabby))) == {
        "tabby cat": ("Tabby Cat", 0.5, True),
        "cat": ("Cat", 0.5, False),
    }


def test_a_key_given_as_a_category_and_as_a_parent_is_named_as_the_parent_spells_it() -> None:
    mug = Label(name="Mug", confidence=70.0, categories=["drinks"])
    tea = Label(name="Tea", confidence=60.0, parents=["Drinks"])
    assert keys(indexed_labels(record(mug, tea)))["drinks"] == ("Drinks", 70.0, False)


def test_a_first_labeling_writes_every_entry_and_counts_each_key_once() -> None:
    change = change_for(None, record(TABBY))
    assert {label.key for label in change.put} == {"tabby cat", "cat", "pet", "animal"}
    assert change.delete == ()
    assert change.counts == {"tabby cat": 1, "cat": 1, "pet": 1, "animal": 1}
    assert change.manifest == Manifest(indexed_labels(record(TABBY)), entry_sort(record(TABBY)), revision=1)


def test_the_same_outcome_again_changes_nothing() -> None:
    first = change_for(None, record(TABBY))
    again = change_for(first.manifest, record(TABBY))
    assert (again.put, again.delete, again.counts, again.changed) == ((), (), {}, False)


def test_a_relabel_writes_only_what_changed() -> None:
    stored = change_for(None, record(TABBY, BEAGLE)).manifest
    relabeled = Label(name="Tabby Cat", confidence=70.0, parents=["Cat", "Pet", "Animal"])
    change = change_for(stored, record(relabeled, MAU))
    # every key whose confidence changed is written again; Beagle's keys go
    assert sorted(label.key for label in change.put) == ["animal", "cat", "egyptian mau", "pet", "tabby cat"]
    assert sorted(change.delete) == ["beagle", "dog"]
    assert change.counts == {"egyptian mau": 1, "beagle": -1, "dog": -1}
    assert change.manifest is not None and change.manifest.revision == 2


def test_a_newer_version_moves_every_entry_and_counts_only_keys_gained_or_lost() -> None:
    stored = change_for(None, record(TABBY)).manifest
    newer = record(MAU, uploaded_at="2026-02-01T00:00:00Z")
    change = change_for(stored, newer)
    assert sorted(label.key for label in change.put) == ["animal", "cat", "egyptian mau", "pet"]
    assert sorted(change.delete) == ["animal", "cat", "pet", "tabby cat"]  # at the old sort key
    assert change.counts == {"egyptian mau": 1, "tabby cat": -1}
    assert change.manifest is not None and change.manifest.entry_sort == entry_sort(newer)


@pytest.mark.parametrize("status", [ImageStatus.REJECTED, ImageStatus.FAILED, ImageStatus.DELETED])
def test_an_outcome_that_is_not_labeled_removes_the_image_from_the_index(status: ImageStatus) -> None:
    stored = change_for(None, record(TABBY)).manifest
    change = change_for(stored, record(status=status))
    assert (change.put, sorted(change.delete), change.manifest) == (
        (),
        ["animal", "cat", "pet", "tabby cat"],
        None,
    )
    assert change.counts == {"tabby cat": -1, "cat": -1, "pet": -1, "animal": -1}
    assert change_for(None, record(status=status)).changed is False


def _actions(change: Any, of: ResultRecord) -> list[dict[str, Any]]:
    return LabelIndexTable(client=None, table_name="labels").actions(change, of)  # type: ignore[arg-type]


def test_the_worst_change_fits_in_one_transaction_with_the_record() -> None:
    old = record(*[Label(name=f"Old {n}", confidence=90 - n, parents=[f"Old Kind {n}"]) for n in range(20)])
    new = record(
        *[Label(name=f"New {n}", confidence=90 - n, parents=[f"New Kind {n}"]) for n in range(20)],
        uploaded_at="2026-03-01T00:00:00Z",
    )
    stored = change_for(None, old).manifest
    assert len(_actions(change_for(stored, new), new)) + 1 <= 100  # + the record's own put


def test_the_manifest_action_is_conditional_on_the_manifest_read() -> None:
    first = change_for(None, record(TABBY))
    put = _actions(first, record(TABBY))[0]["Put"]
    assert put["ConditionExpression"] == "attribute_not_exists(#revision)"
    unchanged = _actions(change_for(first.manifest, record(TABBY)), record(TABBY))
    assert len(unchanged) == 1
    assert unchanged[0]["ConditionCheck"]["ExpressionAttributeValues"] == {":revision": {"N": "1"}}
    removed = _actions(change_for(first.manifest, record(status=ImageStatus.FAILED)), record(TABBY))
    assert removed[0]["Delete"]["ConditionExpression"] == "#revision = :revision"
