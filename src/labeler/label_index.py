"""The label index's rules: which labels an image is found by, and what a new record changes.

The index holds, per owner, an entry for each (label, image) and a count per label, and it always
equals what the results records say: an image is indexed under the labels of its LABELED record, their
parents and their categories ("Cat" finds a Tabby Cat), and under nothing once its record is anything
else (a newer version REJECTED or FAILED, a relabel that failed, a deleted upload). A record written
while labeling is under way (PROCESSING) leaves the index as it was.

A per-image manifest names the keys an image is indexed under, since the record that labeled it is
overwritten by the next PROCESSING claim before the next outcome arrives. The store step writes the
record, the manifest, the entries and the count changes in one transaction (``labeler.aws.label_index``):
a refused or failed write changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from labeler.models import ImageStatus, ResultRecord

#: Index keys per image, the most confident first. One transaction then holds at most
#: 2 + 3 * 2 * 16 = 98 actions (DynamoDB allows 100): the record, the manifest, and per key an entry's
#: put or delete (two when it moves) and the owner's and everyone's count.
MAX_KEYS_PER_IMAGE = 16


def label_key(name: str) -> str:
    """The key a label is indexed and searched under: "Tabby Cat", "tabby cat " -> "tabby cat"."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class IndexedLabel:
    """One key an image is found by: a label of its own (``direct``), or a parent or category of one."""

    key: str
    name: str
    #: Percent: the label's own, or for a parent or category the highest of the labels that carry it.
    confidence: float
    direct: bool


#: How a label gives a key; on equal confidence a label's own name ranks first, then parents, then
#: categories.
_OWN, _PARENT, _CATEGORY = 0, 1, 2


def indexed_labels(record: ResultRecord) -> dict[str, IndexedLabel]:
    """The keys ``record`` is found by (none unless LABELED), at most ``MAX_KEYS_PER_IMAGE``, the most
    confident first: the parents of a confident label outrank a doubtful label of the image's own.

    A key's confidence is the highest of the labels giving it; its name is a label's own spelling
    when one has it, else the first parent's or category's.
    """
    if record.status is not ImageStatus.LABELED:
        return {}
    confidence: dict[str, float] = {}
    names: dict[str, str] = {}
    kind: dict[str, int] = {}
    for label in record.labels:
        given = [
            (label.name, _OWN),
            *((parent, _PARENT) for parent in label.parents),
            *((category, _CATEGORY) for category in label.categories),
        ]
        for name, how in given:
            key = label_key(name)
            if not key:
                continue
            if how < kind.get(key, _CATEGORY + 1):
                names[key], kind[key] = name, how
            confidence[key] = max(confidence.get(key, 0.0), round(label.confidence, 4))
    ranked = sorted(names, key=lambda key: (-confidence[key], kind[key], key))
    return {
        key: IndexedLabel(key, names[key], confidence[key], kind[key] == _OWN)
        for key in ranked[:MAX_KEYS_PER_IMAGE]
    }


@dataclass(frozen=True)
class Manifest:
    """What an image is indexed under now: its keys, and the sort key its entries carry."""

    labels: dict[str, IndexedLabel]
    #: ``<uploaded at>#<image name>``: a label's entries sort newest upload first.
    entry_sort: str
    #: Incremented by every write; a write is refused unless the manifest it read is still stored.
    revision: int


def entry_sort(record: ResultRecord) -> str:
    return f"{record.uploaded_at}#{record.image_name}"


@dataclass(frozen=True)
class IndexChange:
    """The index writes that bring an image's entries from ``previous`` to what a new record says."""

    #: Entries to write (new keys, and kept keys whose confidence, name or sort key changed).
    put: tuple[IndexedLabel, ...]
    #: Keys whose entries at ``previous.entry_sort`` go (gone keys, and kept keys that moved).
    delete: tuple[str, ...]
    #: Per key, +1 (the image is newly found by it) or -1 (no longer).
    counts: dict[str, int]
    #: The manifest after the write (None: indexed under nothing); ``previous`` when nothing changes.
    manifest: Manifest | None
    previous: Manifest | None

    @property
    def changed(self) -> bool:
        return self.manifest != self.previous


def change_for(previous: Manifest | None, record: ResultRecord) -> IndexChange:
    """What writing ``record`` (not PROCESSING) does to the index, given the stored manifest."""
    wanted = indexed_labels(record)
    before = previous.labels if previous else {}
    sort = entry_sort(record)
    moved = previous is not None and previous.entry_sort != sort
    put = tuple(label for key, label in wanted.items() if moved or before.get(key) != label)
    delete = tuple(key for key in before if moved or key not in wanted)
    counts = {key: 1 for key in wanted if key not in before} | {
        key: -1 for key in before if key not in wanted
    }
    if not (put or delete):
        return IndexChange(put=(), delete=(), counts={}, manifest=previous, previous=previous)
    manifest = Manifest(wanted, sort, previous.revision + 1 if previous else 1) if wanted else None
    return IndexChange(put=put, delete=delete, counts=counts, manifest=manifest, previous=previous)
