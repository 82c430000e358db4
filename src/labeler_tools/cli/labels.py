"""``labeler labels``: the labels of the label index, with how many images each finds."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.text import Text

from labeler_tools.cli import options
from labeler_tools.cli.core import errors, print_json, progress, show

#: What to do when nothing is labeled: images are labeled as they are uploaded, or by a backfill.
HOW_TO_LABEL = (
    "upload images (`labeler upload PATH`, or the page) or label the stored ones with `labeler backfill`"
)


@options.with_common
def labels(
    common: options.Common,
    owner: options.Owner = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many labels, most images first.")] = 50,
) -> None:
    """List the labels images are found by, with how many images each finds, most first.

    An image is found by its own labels and their parents ("Cat" finds a Tabby Cat), so a parent
    counts every image one of its children finds. Without `--owner`: every owner's images.

    Examples:

    * `labeler labels --owner cli`
    * `labeler list --label cat` (the images a label finds)
    """
    from labeler_tools.cli import render

    target = common.target()
    counts = target.label_index().counts(owner)
    shown = counts[:limit]
    if common.json:
        print_json([asdict(count) for count in shown])
    elif shown:
        show(render.label_counts(shown, more=len(counts) - len(shown)), common.wide)
    else:
        whose = f" of owner {owner}" if owner else ""
        errors.print(Text(f"No image{whose} is labeled yet: {HOW_TO_LABEL}."), soft_wrap=True)


@options.with_common
def reindex(common: options.Common, owner: options.Owner = None) -> None:
    """Bring the label index in step with the results records.

    The store step indexes every outcome it writes; run this once after deploying this version over
    a stack whose records were written before the label index existed, or to repair the index. It reads
    every record (one owner's with `--owner`), and writes only what differs. It is safe while images are
    being labeled: a record that changed after it was read is left to the write that changed it.

    Examples:

    * `labeler reindex --stack ImageLabeler`
    * `labeler reindex --owner cli --json`
    """
    from labeler_tools.ops.reindex import reindex as reindex_records

    target = common.target()
    with progress() as bar:
        task = bar.add_task("reindexing", total=None)
        summary = reindex_records(target, owner, on_record=lambda: bar.advance(task))
    if common.json:
        print_json(asdict(summary))
        return
    show(
        Text(
            f"{summary.records:,} records read: {summary.indexed:,} indexed anew, {summary.unchanged:,} "
            f"already in step, {summary.changed_meanwhile:,} changed meanwhile (indexed by that write), "
            f"{summary.in_progress:,} being labeled, {summary.unreadable:,} not image records."
        )
    )
