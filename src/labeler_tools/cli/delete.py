"""``labeler delete``: uploads deleted now; their versions, records and labels by the cleanup."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from labeler_tools.cli import options
from labeler_tools.cli.core import EXIT_NOT_LABELED, fail, poll_interval, print_outcome_json, progress, show

if TYPE_CHECKING:
    pass


@options.with_common
def delete(
    common: options.Common,
    keys: Annotated[
        list[str] | None, typer.Argument(metavar="KEY", help="Object keys: uploads/OWNER/NAME.")
    ] = None,
    from_stdin: Annotated[
        bool, typer.Option("--stdin", help="Keys from stdin: one a line, or `labeler list --json`.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Follow each record until the cleanup removed it or marked it DELETED."),
    ] = False,
    timeout: options.Timeout = 300,
) -> None:
    """Delete uploads: their objects now, their versions, records and labels through the cleanup.

    Each key must be `uploads/<owner>/<name>` and exist in the upload bucket; any other key is
    reported and nothing is touched for it. The delete leaves a delete marker; S3's "Object Deleted"
    event starts the cleanup, which removes every version of the key and leaves a DELETED record
    (hidden from `labeler list` unless `--status DELETED`) that the table's TTL removes later.

    Exit status: 0 when every key was deleted (with `--wait`: and cleaned up), 2 when some was not.

    Examples:

    * `labeler delete uploads/alice/cat.jpg --wait`
    * `labeler list --owner mallory --json | labeler delete --stdin`
    """
    from labeler_tools.cli import render
    from labeler_tools.ops.delete import Deleter, summarize
    from labeler_tools.ops.replay import parse_items

    items = [*(keys or []), *(parse_items(sys.stdin.read()) if from_stdin else [])]
    if not items:
        fail("no keys: give KEY arguments or --stdin")
    target = common.target()
    deleter = Deleter(target)
    with progress() as bar:
        task = bar.add_task("deleting", total=len(set(items)))
        done = deleter.delete(items, on_item=lambda _: bar.advance(task))
    if wait and any(item.deleted for item in done):
        with progress() as bar:
            task = bar.add_task("waiting for the cleanup", total=None)
            done = deleter.wait(
                done,
                timeout,
                poll_interval(target),
                on_progress=lambda cleaned, total: bar.update(task, completed=cleaned, total=total),
            )
    summary = summarize(done, waited=wait)
    if common.json:
        print_outcome_json(summary, done)
    else:
        show(render.deletions(done, summary, wide=common.wide), common.wide)
    if not summary.ok:
        raise typer.Exit(EXIT_NOT_LABELED)
