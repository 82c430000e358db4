"""The label index table (``labeler.blueprint.LABEL_INDEX``): its items, the transaction actions that
change them, and the queries of the page and the CLI.

Items, by partition key (``<owner>``: the uploader, ``#`` and ``%`` percent-encoded):

- ``<owner>#label#<key>``: one entry per image found by that label, sorted ``<uploaded at>#<image
  name>`` (newest first when read backwards), with the confidence, the label's name and the image's
  file name;
- ``<owner>#counts`` and ``#all#counts``: per key (the sort key), how many images it finds;
- ``<owner>#manifest``: per image name, the keys it is indexed under and its entries' sort key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from labeler.blueprint import LABEL_INDEX
from labeler.label_index import IndexChange, IndexedLabel, Manifest, label_key
from labeler.models import ResultRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def owner_part(owner: str) -> str:
    """``owner`` as the start of a partition key: no ``#`` of its own, so no owner's keys can be read as
    another's (a guest's identity id has none: it is itself)."""
    return owner.replace("%", "%25").replace("#", "%23")


def entries_partition(owner: str, key: str) -> str:
    return f"{owner_part(owner)}{LABEL_INDEX.entries_infix}{key}"


def counts_partition(owner: str | None) -> str:
    """One owner's counts, or everyone's (None)."""
    return f"{LABEL_INDEX.everyone if owner is None else owner_part(owner)}{LABEL_INDEX.counts_suffix}"


def manifests_partition(owner: str) -> str:
    return f"{owner_part(owner)}{LABEL_INDEX.manifests_suffix}"


def _number(value: float) -> dict[str, str]:
    return {"N": str(Decimal(str(round(value, 4))))}


@dataclass(frozen=True)
class LabelCount:
    key: str
    name: str
    images: int


@dataclass(frozen=True)
class IndexEntry:
    """An image found by a label."""

    owner: str
    image_name: str
    original_name: str | None
    uploaded_at: str
    label: str
    confidence: float


@dataclass(frozen=True)
class LabelIndexTable:
    client: DynamoDBClient
    table_name: str

    def _key(self, partition: str, sort: str) -> dict[str, Any]:
        return {LABEL_INDEX.partition_key: {"S": partition}, LABEL_INDEX.sort_key: {"S": sort}}

    def manifest(self, owner: str, image_name: str) -> Manifest | None:
        """The stored manifest of an image (read consistently), or None."""
        item = self.client.get_item(
            TableName=self.table_name,
            Key=self._key(manifests_partition(owner), image_name),
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        labels = {
            key: IndexedLabel(
                key=key,
                name=value["M"]["Name"]["S"],
                confidence=float(value["M"]["Confidence"]["N"]),
                direct=value["M"]["Direct"]["BOOL"],
            )
            for key, value in item["Labels"]["M"].items()
        }
        return Manifest(labels=labels, entry_sort=item["EntrySort"]["S"], revision=int(item["Revision"]["N"]))

    def actions(self, change: IndexChange, record: ResultRecord) -> list[dict[str, Any]]:
        """TransactWriteItems actions for ``change`` (of ``record``'s image): the manifest's first,
        conditional on the manifest read being the one stored, so that concurrent writers of one image
        cannot both apply a change computed from the same manifest."""
        owner, previous = record.owner, change.previous
        manifest_key = self._key(manifests_partition(owner), record.image_name)
        condition: dict[str, Any] = (
            {
                "ConditionExpression": "attribute_not_exists(#revision)",
                "ExpressionAttributeNames": {"#revision": "Revision"},
            }
            if previous is None
            else {
                "ConditionExpression": "#revision = :revision",
                "ExpressionAttributeNames": {"#revision": "Revision"},
                "ExpressionAttributeValues": {":revision": {"N": str(previous.revision)}},
            }
        )
        target = {"TableName": self.table_name, "Key": manifest_key, **condition}
        if not change.changed:
            first: dict[str, Any] = {"ConditionCheck": target}
        elif change.manifest is None:
            first = {"Delete": target}
        else:
            first = {
                "Put": {
                    **{k: v for k, v in target.items() if k != "Key"},
                    "Item": {**manifest_key, **_manifest_item(change.manifest)},
                }
            }
        actions = [first]
        for key in change.delete:
            assert previous is not None
            actions.append(
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": self._key(entries_partition(owner, key), previous.entry_sort),
                    }
                }
            )
        if change.put:
            assert change.manifest is not None  # entries are written only for an image still indexed
            sort = change.manifest.entry_sort
            actions += [
                {"Put": {"TableName": self.table_name, "Item": self._entry(label, record, sort)}}
                for label in change.put
            ]
        for key, delta in change.counts.items():
            name = (change.manifest.labels if delta > 0 else previous.labels)[key].name  # type: ignore[union-attr]
            for partition in (counts_partition(owner), counts_partition(None)):
                actions.append(
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": self._key(partition, key),
                            "UpdateExpression": "ADD #images :delta SET #name = :name",
                            "ExpressionAttributeNames": {
                                "#images": LABEL_INDEX.count_attribute,
                                "#name": "Name",
                            },
                            "ExpressionAttributeValues": {":delta": {"N": str(delta)}, ":name": {"S": name}},
                        }
                    }
                )
        return actions

    def _entry(self, label: IndexedLabel, record: ResultRecord, sort: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            **self._key(entries_partition(record.owner, label.key), sort),
            LABEL_INDEX.label_attribute: {"S": label.key},
            "Name": {"S": label.name},
            "Confidence": _number(label.confidence),
            "Direct": {"BOOL": label.direct},
            "Owner": {"S": record.owner},
            "ImageName": {"S": record.image_name},
            "UploadedAt": {"S": record.uploaded_at},
        }
        if record.original_name:
            item["OriginalName"] = {"S": record.original_name}
        return item

    def counts(self, owner: str | None) -> list[LabelCount]:
        """Every label with the number of images it finds (none with 0), most images first; one owner's
        or everyone's (None: operators only)."""
        found = [
            LabelCount(
                key=item[LABEL_INDEX.sort_key]["S"],
                name=item["Name"]["S"],
                images=int(item[LABEL_INDEX.count_attribute]["N"]),
            )
            for item in self._query(
                {
                    "KeyConditionExpression": "#partition = :partition",
                    "ExpressionAttributeNames": {"#partition": LABEL_INDEX.partition_key},
                    "ExpressionAttributeValues": {":partition": {"S": counts_partition(owner)}},
                }
            )
        ]
        return sorted(
            (count for count in found if count.images > 0), key=lambda count: (-count.images, count.key)
        )

    def images(
        self, label: str, owner: str | None, min_confidence: float = 0.0, page_size: int = 100
    ) -> Iterator[IndexEntry]:
        """Images found by ``label`` (a name, any spelling) at ``min_confidence`` percent or more, newest
        upload first; one owner's, or every owner's (None: the ByLabel index, operators only). Read
        ``page_size`` entries per Query, as they are consumed."""
        key = label_key(label)
        request: dict[str, Any] = {
            "ScanIndexForward": False,
            "FilterExpression": "#confidence >= :min",
            "ExpressionAttributeValues": {":min": _number(min_confidence)},
        }
        if owner is None:
            request |= {
                "IndexName": LABEL_INDEX.by_label_index,
                "KeyConditionExpression": "#label = :key",
                "ExpressionAttributeNames": {
                    "#label": LABEL_INDEX.label_attribute,
                    "#confidence": "Confidence",
                },
            }
            request["ExpressionAttributeValues"][":key"] = {"S": key}
        else:
            request |= {
                "KeyConditionExpression": "#partition = :partition",
                "ExpressionAttributeNames": {
                    "#partition": LABEL_INDEX.partition_key,
                    "#confidence": "Confidence",
                },
            }
            request["ExpressionAttributeValues"][":partition"] = {"S": entries_partition(owner, key)}
        for item in self._query({**request, "PaginationConfig": {"PageSize": page_size}}):
            yield IndexEntry(
                owner=item["Owner"]["S"],
                image_name=item["ImageName"]["S"],
                original_name=item.get("OriginalName", {}).get("S"),
                uploaded_at=item["UploadedAt"]["S"],
                label=item["Name"]["S"],
                confidence=float(item["Confidence"]["N"]),
            )

    def _query(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for page in self.client.get_paginator("query").paginate(TableName=self.table_name, **request):
            yield from page.get("Items", [])


def _manifest_item(manifest: Manifest) -> dict[str, Any]:
    return {
        "Labels": {
            "M": {
                label.key: {
                    "M": {
                        "Name": {"S": label.name},
                        "Confidence": _number(label.confidence),
                        "Direct": {"BOOL": label.direct},
                    }
                }
                for label in manifest.labels.values()
            }
        },
        "EntrySort": {"S": manifest.entry_sort},
        "Revision": {"N": str(manifest.revision)},
    }
