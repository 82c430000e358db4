"""``labeler executions``: the pipeline's Step Functions executions, listed or explained."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from labeler.models import ExecutionStatus
from labeler_tools.cli import options
from labeler_tools.cli.core import errors, print_json, show

if TYPE_CHECKING:
    pass

app = typer.Typer(
    help="The pipeline's Step Functions executions: list them, or explain one state by state.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@app.command("list")
@options.with_common
def list_executions(
    common: options.Common,
    execution_status: Annotated[
        ExecutionStatus | None,
        typer.Option("--status", case_sensitive=False, help="Only executions in this status."),
    ] = None,
    since: options.Since = None,
    limit: options.Limit = 50,
    backfill: Annotated[
        str | None,
        typer.Option(metavar="RUN", help="Only the executions this backfill run started (its items)."),
    ] = None,
) -> None:
    """List executions, newest first, each with the image it is about.

    Examples: `labeler executions list --status FAILED --since 2h`,
    `labeler executions list --backfill backfill-20261203-101500`
    """
    from labeler_tools.cli import render
    from labeler_tools.ops.executions import list_executions

    found = list_executions(
        common.target(), status=execution_status, since=since, limit=limit, backfill_run=backfill
    )
    if common.json:
        print_json([execution.model_dump(mode="json") for execution in found])
    elif found:
        show(render.executions(found, wide=common.wide), common.wide)
    else:
        errors.print("no executions match")


@app.command("show")
@options.with_common
def show_execution(
    common: options.Common,
    ident: Annotated[str, typer.Argument(metavar="ID", help="An execution ARN or name, or an image's key.")],
) -> None:
    """Explain one execution state by state.

    Each state with when it started and how long it took; each try of a task with its error (the
    retries); the image, the outcome or the final error; on AWS, the console link. Given a key, the
    execution that wrote its record.

    Example: `labeler executions show uploads/cli/0f3c9e2a.jpg`
    """
    from labeler_tools.cli import render
    from labeler_tools.ops.executions import explain, find_execution

    target = common.target()
    detail = explain(target, find_execution(target, ident))
    if common.json:
        print_json(detail.model_dump(mode="json"))
    else:
        show(render.execution(detail, wide=common.wide), common.wide)
