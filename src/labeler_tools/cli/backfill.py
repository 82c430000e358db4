"""``labeler backfill``: label what is already stored, by mode, with the backfill workflow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from labeler.backfill import BackfillMode, BackfillRun
from labeler.models import UPLOAD_PREFIX, ExecutionStatus
from labeler_tools.cli import options
from labeler_tools.cli.core import (
    EXIT_INTERRUPTED,
    EXIT_NOT_LABELED,
    errors,
    poll_interval,
    print_json,
    progress,
    show,
)

if TYPE_CHECKING:
    from labeler_tools.ops.backfill import Backfill


@options.with_common
def backfill(
    common: options.Common,
    prefix: Annotated[
        str | None,
        typer.Option(
            metavar="PREFIX",
            help=f"Only objects under this prefix (default: every upload, {UPLOAD_PREFIX}; in the library "
            "bucket, its whole prefix).",
        ),
    ] = None,
    bucket: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="The bucket to list: the upload bucket (default), or the library bucket named at deploy "
            "time, whose photos are owned by library:BUCKET.",
        ),
    ] = None,
    mode: Annotated[
        BackfillMode,
        typer.Option(
            case_sensitive=False,
            help="missing: no LABELED or REJECTED outcome of the object as it is; failed: FAILED ones; "
            "stale: labeled with other settings (or --label-model-version); all: every object.",
        ),
    ] = BackfillMode.MISSING,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Count what would be labeled, and what it would cost; start nothing."),
    ] = False,
    max_concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            max=10_000,
            help="Objects in flight at once. The default stays under a fresh account's DetectLabels rate.",
        ),
    ] = BackfillRun.model_fields["max_concurrency"].default,
    tolerated_failure_percentage: Annotated[
        float, typer.Option(min=0, max=100, help="Stop the run when more objects than this fail, in percent.")
    ] = BackfillRun.model_fields["tolerated_failure_percentage"].default,
    label_model_version: Annotated[
        str | None,
        typer.Option(metavar="VERSION", help="stale: also relabel what another label model version labeled."),
    ] = None,
    global_quota: Annotated[
        bool,
        typer.Option(
            "--global-quota/--no-global-quota",
            help="Count the run against the site's daily image limit (per-uploader quotas never apply).",
        ),
    ] = True,
    name: Annotated[
        str | None, typer.Option(metavar="NAME", help="The run's name (default: backfill-<UTC time>).")
    ] = None,
    follow: Annotated[
        str | None,
        typer.Option(metavar="NAME|ARN", help="Follow a run started before instead of starting one."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the run to its end with a progress bar.")
    ] = False,
    timeout: options.Timeout = 24 * 3600,
) -> None:
    """Label the images already stored: those with no outcome yet, failed ones, or all of them again.

    Runs the backfill workflow (a Step Functions Distributed Map) on the target: each object goes
    through the same pipeline as an upload, with its records, retries and failure notices. Objects an
    execution is labeling now are left to it. Per-uploader quotas do not apply to a run.

    Exit status: 0 when the run started (with `--wait`: ended with no object failed), 2 when objects
    failed or the run did not succeed.

    Examples:

    * `labeler backfill --dry-run`
    * `labeler backfill --mode stale --wait`
    * `labeler backfill --prefix uploads/cli/ --mode failed --max-concurrency 10 --wait`
    * `labeler backfill --bucket my-photos --dry-run` (the library bucket)
    """
    from labeler_tools.cli import render
    from labeler_tools.ops.backfill import Backfill, default_run_name

    target = common.target()
    work = Backfill(target)
    if follow is not None:
        _follow(work, work.arn_of(follow), common, timeout)
        return
    run = work.new_run(
        bucket,
        prefix,
        name=name or default_run_name(),
        mode=mode,
        global_quota=global_quota,
        model_version=label_model_version,
        max_concurrency=max_concurrency,
        tolerated_failure_percentage=tolerated_failure_percentage,
    )
    if dry_run:
        with progress() as bar:
            task = bar.add_task("deciding", total=None)
            plan = work.dry_run(run, on_page=lambda listed: bar.update(task, completed=listed))
        if common.json:
            print_json(plan.model_dump(mode="json"))
        else:
            show(render.backfill_dry_run(plan), common.wide)
        return
    started = work.start(run)
    if not wait:
        if common.json:
            print_json(started.model_dump(mode="json"))
        else:
            show(render.backfill_progress(started))
            errors.print(f"Follow it: labeler backfill --follow {run.name} --wait")
        return
    _follow(work, started.execution_arn, common, timeout)


def _follow(work: Backfill, run_arn: str, common: options.Common, timeout: float) -> None:
    from labeler_tools.cli import render

    try:
        with progress() as bar:
            task = bar.add_task("labeling", total=None)
            last = work.wait(
                run_arn,
                timeout,
                poll_interval(work.target),
                on_progress=lambda now: bar.update(task, completed=now.done, total=now.total or None),
            )
    except KeyboardInterrupt:
        errors.print("Interrupted: the run goes on; follow it again with --follow.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if common.json:
        print_json(last.model_dump(mode="json"))
    else:
        show(render.backfill_progress(last))
    if last.status is not ExecutionStatus.SUCCEEDED or last.failed:
        raise typer.Exit(EXIT_NOT_LABELED)
