"""``labeler list`` and ``labeler status``: the image records of the results table, and (``labeler list
--label``) the images a label finds in the label index."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from labeler.models import ImageStatus, ResultRecord
from labeler_tools.cli import options
from labeler_tools.cli.core import EXIT_NOT_LABELED, errors, print_json, show, warn

if TYPE_CHECKING:
    from datetime import datetime

    from labeler.aws.label_index import IndexEntry
    from labeler_tools.ops.records import StoredRecord


def record_json(record: StoredRecord) -> dict[str, Any]:
    """Every field of the record, and its ``key`` (``image_name``, the object key, under the name
    ``labeler replay --stdin`` and ``labeler delete --stdin`` read); an unreadable one has ``problem``."""
    return {"key": record.image_name, **record.model_dump(mode="json")}


@options.with_common
def status(
    common: options.Common,
    keys: Annotated[list[str], typer.Argument(metavar="KEY", help="Object keys: uploads/OWNER/NAME.")],
) -> None:
    """Show an image's record: its status, labels or why it failed, and the execution behind it.

    A deleted image shows its DELETED tombstone (kept until the table's TTL removes it). A record this
    CLI cannot read (written by a newer pipeline) is shown as stored, with what it cannot read.

    Exit status: 0 when every key is LABELED, 2 when some is not (or has no record yet, was deleted,
    or is unreadable).
    """
    from labeler_tools.cli import render
    from labeler_tools.ops.records import Records, is_labeled

    target = common.target()
    records = Records(target.dynamodb, target.results_table)
    found = {key: records.get(key) for key in keys}
    if common.json:
        print_json({key: record_json(record) if record else None for key, record in found.items()})
    for key, record in found.items():
        if record is None:
            warn(f"no record for {key} (not uploaded, or not processed yet)")
        elif not common.json:
            execution = record.execution_id if isinstance(record, ResultRecord) else None
            link = target.console_url(execution) if execution else None
            show(render.record(record, link, wide=common.wide), common.wide)
    if not all(is_labeled(record) for record in found.values()):
        raise typer.Exit(EXIT_NOT_LABELED)


@options.with_common
def list_records(
    common: options.Common,
    record_status: Annotated[
        ImageStatus | None,
        typer.Option(
            "--status",
            case_sensitive=False,
            help="Only records in this status (DELETED tombstones are hidden otherwise).",
        ),
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(
            metavar="LABEL",
            help="The images this label finds instead (its own or a parent: Cat finds a Tabby Cat).",
        ),
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=100,
            metavar="PERCENT",
            help="With --label: only images it finds with at least this confidence (default 0).",
        ),
    ] = None,
    owner: options.Owner = None,
    since: options.Since = None,
    until: options.Until = None,
    limit: options.Limit = 50,
) -> None:
    """List image records, newest first; or, with `--label`, the images a label finds.

    `--status FAILED` or `REJECTED` reads the failures index (quick on any table), `--owner` reads one
    owner's images, anything else scans the table. Deleted images (DELETED tombstones) are shown only
    with `--status DELETED`. A record this CLI cannot read (written by a newer pipeline) is listed
    with what it cannot read.

    `--label` reads the label index (`labeler labels` lists its labels): LABELED images only, newest
    upload first, every owner's unless `--owner`; `--since` / `--until` then compare with the upload
    time.

    Examples:

    * `labeler list --status FAILED --since 1h`
    * `labeler list --status FAILED --json | labeler replay --stdin`
    * `labeler list --label cat --min-confidence 90 --since 1d`
    """
    from labeler_tools.cli import render
    from labeler_tools.ops.records import RecordQuery, Records

    if label is not None:
        _list_labeled(common, label, min_confidence, record_status, owner, since, until, limit)
        return
    if min_confidence is not None:
        raise typer.BadParameter("only with --label", param_hint="--min-confidence")
    target = common.target()
    query = RecordQuery(status=record_status, owner=owner, since=since, until=until, limit=limit)
    found = Records(target.dynamodb, target.results_table).find(query)
    if common.json:
        print_json([record_json(record) for record in found])
    elif found:
        show(render.records(found, wide=common.wide), common.wide)
    else:
        errors.print("no records match")


def labeled_json(entry: IndexEntry) -> dict[str, Any]:
    """An image a label finds, with its ``key`` (the object key, as ``labeler replay --stdin`` and
    ``labeler delete --stdin`` read it): its owner, file name, upload time, the label it was found by
    (as named: a parent's name when a parent found it) and that label's confidence."""
    return {
        "key": entry.image_name,
        "owner": entry.owner,
        "original_name": entry.original_name,
        "uploaded_at": entry.uploaded_at,
        "label": entry.label,
        "confidence": entry.confidence,
    }


def _list_labeled(
    common: options.Common,
    label: str,
    min_confidence: float | None,
    record_status: ImageStatus | None,
    owner: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> None:
    from labeler.label_index import label_key
    from labeler_tools.cli import render
    from labeler_tools.ops.records import LabelQuery, labeled_images

    if not label_key(label):
        raise typer.BadParameter("name a label, e.g. --label cat", param_hint="--label")
    if record_status not in (None, ImageStatus.LABELED):
        raise typer.BadParameter(
            f"--label finds LABELED images only: leave out --status {record_status}", param_hint="--status"
        )
    query = LabelQuery(
        label=label, owner=owner, min_confidence=min_confidence or 0.0, since=since, until=until, limit=limit
    )
    found = labeled_images(common.target().label_index(), query)
    if common.json:
        print_json([labeled_json(entry) for entry in found])
    elif found:
        show(render.labeled_images(found, wide=common.wide, owners=owner is None), common.wide)
    else:
        at = f" at {query.min_confidence:g}% or more" if query.min_confidence else ""
        whose = f" of owner {owner}" if owner else ""
        errors.print(
            Text(f"No image{whose} is found by {label!r}{at} (`labeler labels` lists the labels)."),
            soft_wrap=True,
        )
