"""``labeler list`` and ``labeler status``: the image records of the results table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from labeler.models import ImageStatus, ResultRecord
from labeler_tools.cli import options
from labeler_tools.cli.core import EXIT_NOT_LABELED, errors, print_json, show, warn

if TYPE_CHECKING:
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
    owner: options.Owner = None,
    since: options.Since = None,
    until: options.Until = None,
    limit: options.Limit = 50,
) -> None:
    """List image records, newest first.

    `--status FAILED` or `REJECTED` reads the failures index (quick on any table), `--owner` reads one
    owner's images, anything else scans the table. Deleted images (DELETED tombstones) are shown only
    with `--status DELETED`. A record this CLI cannot read (written by a newer pipeline) is listed
    with what it cannot read.

    Examples:

    * `labeler list --status FAILED --since 1h`
    * `labeler list --status FAILED --json | labeler replay --stdin`
    """
    from labeler_tools.cli import render
    from labeler_tools.ops.records import RecordQuery, Records

    target = common.target()
    query = RecordQuery(status=record_status, owner=owner, since=since, until=until, limit=limit)
    found = Records(target.dynamodb, target.results_table).find(query)
    if common.json:
        print_json([record_json(record) for record in found])
    elif found:
        show(render.records(found, wide=common.wide), common.wide)
    else:
        errors.print("no records match")
