"""``labeler upload``: files into the pipeline, and (``--wait``) what became of each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from labeler_tools.cli import options
from labeler_tools.cli.core import EXIT_NOT_LABELED, fail, poll_interval, print_json, progress, show, warn

if TYPE_CHECKING:
    pass


@options.with_common
def upload(
    common: options.Common,
    paths: Annotated[
        list[str],
        typer.Argument(help="Files, folders (recursive) and globs like 'shots/**/*.jpg'."),
    ],
    owner: Annotated[str, typer.Option(metavar="OWNER", help="Upload to uploads/OWNER/.")] = "cli",
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Files uploaded at a time.")] = 8,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for each image's record; show its labels or why it failed.")
    ] = False,
    timeout: options.Timeout = 900,
) -> None:
    """Upload images to the pipeline.

    Each file becomes `uploads/OWNER/<random hex>.<ext>`; its name is kept in the object's metadata
    (`original-name`). Nothing is checked here: a file the pipeline cannot label is uploaded anyway and
    its record says why (REJECTED with a code; files over 15 MiB get a warning first).

    Exit status: 0 when every file was uploaded (with `--wait`: labeled), 2 when some was not.

    Examples:

    * `labeler upload photos/ --wait`
    * `labeler upload 'shots/**/*.png' --owner alice --json > uploaded.json`
    """
    from labeler_tools.cli import render
    from labeler_tools.ops.upload import MAX_BYTES, check_owner, collect, plan, wait_for_records
    from labeler_tools.ops.upload import upload as put_files

    try:
        check_owner(owner)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--owner") from error
    files, problems = collect(paths)
    for problem in problems:
        warn(problem)
    if not files:
        fail("No files to upload.")
    target = common.target()
    items = plan(files, owner)
    for item in items:
        if item.size > MAX_BYTES:
            warn(f"{item.path} is over 15 MiB: it will be REJECTED (TOO_LARGE).")
    with progress() as bar:
        task = bar.add_task(f"uploading to the {target.description}", total=len(items))
        done = put_files(target, items, concurrency, on_done=lambda _: bar.advance(task))
    if wait:
        with progress() as bar:
            task = bar.add_task("waiting for records", total=len(done))
            done = wait_for_records(
                target,
                done,
                timeout,
                poll_interval(target),
                on_progress=lambda finished, total: bar.update(task, completed=finished, total=total),
            )
    if common.json:
        print_json([item.model_dump(mode="json") for item in done])
    else:
        show(render.uploads(done, waited=wait, wide=common.wide), common.wide)
    if any(item.error or (wait and not item.labeled) for item in done):
        raise typer.Exit(EXIT_NOT_LABELED)
