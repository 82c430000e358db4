"""``labeler replay``: failed images through the pipeline again, each exactly once."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from labeler_tools.cli import options
from labeler_tools.cli.core import (
    EXIT_INTERRUPTED,
    EXIT_NOT_LABELED,
    errors,
    poll_interval,
    print_json,
    print_outcome_json,
    progress,
    show,
)
from labeler_tools.ops.statuses import Replayable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from labeler_tools.ops.replay import Replay, ReplayItem


@options.with_common
def replay(
    common: options.Common,
    since: options.Since = None,
    until: options.Until = None,
    replay_status: Annotated[
        Replayable,
        typer.Option("--status", case_sensitive=False, help="FAILED records, or (opt in) REJECTED ones."),
    ] = Replayable.FAILED,
    error: Annotated[
        str | None, typer.Option(metavar="CODE", help="Only this error code or error name.")
    ] = None,
    owner: options.Owner = None,
    keys: Annotated[
        list[str] | None,
        typer.Option(
            "--key",
            metavar="KEY|ARN",
            help="This key or execution ARN instead of a table query (repeatable).",
        ),
    ] = None,
    from_stdin: Annotated[
        bool,
        typer.Option(
            "--stdin", help="Keys or execution ARNs from stdin: one a line, or `labeler list --json`."
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; start nothing.")] = False,
    max_rate: Annotated[
        float, typer.Option(min=0.01, help="At most this many executions started per second.")
    ] = 10,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the executions to the end; report outcomes.")
    ] = False,
    timeout: options.Timeout = 900,
) -> None:
    """Run failed images through the pipeline again, each exactly once.

    Selects FAILED records (by time, error code, owner) or takes keys / execution ARNs. An execution
    that stopped inside a task (timed out, aborted) and can be redriven is **redriven**: it resumes at
    that task. Every other failure (on this pipeline: recorded, then ended in the Fail state) gets a
    **new execution** with the original input, named after the failed one: running the same replay
    twice starts nothing twice. Images LABELED since are skipped.

    Exit status: 0 when all went well (with `--wait`: every replayed image is LABELED), 2 when some
    image is still failing or could not be replayed.

    Examples:

    * `labeler replay --since 2h --dry-run`
    * `labeler replay --error LabelServiceThrottled --wait`
    * `labeler replay --status REJECTED --error UNSUPPORTED_FORMAT --since 1d`
    """
    from labeler_tools.cli import render
    from labeler_tools.ops.replay import Replay, Selection, parse_items, summarize

    target = common.target()
    items = [*(keys or []), *(parse_items(sys.stdin.read()) if from_stdin else [])]
    selection = Selection(
        status=replay_status, since=since, until=until, error=error, owner=owner, items=tuple(items)
    )
    run = Replay(target, selection)
    with errors.status(f"planning on the {target.description}"):
        plan = run.plan(run.candidates())
    if not plan:
        if common.json:
            print_outcome_json(summarize(plan, waited=wait), plan)
        else:
            errors.print(f"Nothing to replay: no {selection.status.value} records match.")
        return
    if dry_run:
        if common.json:
            print_json({"dry_run": True, "items": [item.model_dump(mode="json") for item in plan]})
        else:
            title = "Replay plan (dry run: nothing started)"
            show(render.replay_items(plan, title=title, wide=common.wide), common.wide)
        return
    try:
        done = _start_and_follow(run, plan, max_rate, timeout if wait else None)
    except KeyboardInterrupt:
        errors.print("Interrupted: what was started keeps running; run the same replay again to follow it.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    summary = summarize(done, waited=wait)
    if common.json:
        print_outcome_json(summary, done)
    else:
        show(render.replay_items(done, title="Replay", wide=common.wide), common.wide)
        show(render.replay_summary(summary))
    if not summary.ok:
        raise typer.Exit(EXIT_NOT_LABELED)


def _start_and_follow(
    run: Replay, plan: Sequence[ReplayItem], max_rate: float, timeout: float | None
) -> list[ReplayItem]:
    """Start (rate-limited), then, with a timeout, wait for every execution to finish."""
    with progress() as bar:
        task = bar.add_task("starting", total=len(plan))
        started = run.start(plan, max_rate, on_item=lambda _: bar.advance(task))
    if timeout is None:
        return started
    with progress() as bar:
        task = bar.add_task("waiting for executions", total=None)
        return run.wait(
            started,
            timeout,
            poll_interval(run.target),
            on_progress=lambda finished, total: bar.update(task, completed=finished, total=total),
        )
