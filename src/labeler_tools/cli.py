"""``labeler``: the operator's command line."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text
from typer import _click
from typer.core import TyperGroup

from labeler.aws.codes import error_summary
from labeler.blueprint import DEFAULT_QUOTA, QuotaSpec
from labeler.models import ExecutionStatus
from labeler_tools.deployment import Discovery, discovery_path
from labeler_tools.ops.statuses import Replayable

if TYPE_CHECKING:
    from rich.progress import Progress

    from labeler_tools.ops.replay import Replay, ReplayItem
    from labeler_tools.ops.target import Target

#: Exit statuses of the operator commands besides 0 (and 130 after Ctrl-C, as typer does).
EXIT_USAGE, EXIT_NOT_LABELED = 1, 2


class LabelerCommands(TyperGroup):
    """Exit statuses: 0 ok, 1 usage or target error, 2 some items not labeled, 130 interrupted.

    click exits 2 on usage errors; here 2 means "some items are not labeled", so usage errors exit 1.
    Operator errors (no local stack, unknown stack, nothing answering, AWS refusing a call) are one
    line on stderr, not a traceback. (typer vendors click as ``typer._click``: its exceptions are the
    ones raised; typer is pinned and a test checks the usage exit status.)
    """

    def make_context(
        self, info_name: str | None, args: list[str], parent: _click.Context | None = None, **extra: Any
    ) -> _click.Context:
        with _usage_exit_status():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: _click.Context) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        from labeler_tools.ops.errors import OperatorError

        try:
            with _usage_exit_status():
                return super().invoke(ctx)
        except OperatorError as error:
            _fail(str(error))
        except ClientError as error:
            _fail(f"AWS refused {error.operation_name}: {error_summary(error)}")
        except BotoCoreError as error:  # nothing answering, no credentials, ...
            _fail(str(error))


@contextmanager
def _usage_exit_status() -> Iterator[None]:
    try:
        yield
    except _click.exceptions.UsageError as error:
        error.exit_code = EXIT_USAGE  # a class attribute in click; set on this error only
        raise


app = typer.Typer(
    name="labeler",
    help="Image Labeler: label photos with a serverless pipeline, on AWS or on this machine.",
    no_args_is_help=True,
    add_completion=False,
    cls=LabelerCommands,
    rich_markup_mode="markdown",
)
console = Console()
#: Progress, warnings and errors: stdout stays clean for tables and --json.
errors = Console(stderr=True)


@app.callback()
def main() -> None:
    """Image Labeler: label photos with a serverless pipeline, on AWS or on this machine."""


@app.command()
def local(
    host: Annotated[str, typer.Option(help="Interface to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the local AWS endpoint (moto).")] = 4566,
    web_port: Annotated[int, typer.Option(help="Port of the web page.")] = 8080,
    data_dir: Annotated[
        Path, typer.Option(help="Where uploads, results and the discovery file (local.json) are kept.")
    ] = Path(".labeler"),
    backend: Annotated[
        str, typer.Option(help="Label backend: 'onnx' (offline model) or 'rekognition' (moto's stand-in).")
    ] = "onnx",
    min_confidence: Annotated[
        float | None,
        typer.Option(min=0, max=100, help="Lowest label confidence kept, percent [default: 10 for onnx]."),
    ] = None,
    max_labels: Annotated[int, typer.Option(min=1, max=100, help="Most labels kept per image.")] = 10,
    ephemeral: Annotated[bool, typer.Option(help="Start empty and keep nothing when stopped.")] = False,
    fail_first_label_calls: Annotated[
        int,
        typer.Option(
            min=0,
            help="Rehearse an outage: the first N label calls fail (retried, then FAILED), then it heals.",
        ),
    ] = 0,
    quota_per_owner: Annotated[
        int, typer.Option(min=0, help="Images one owner may have labeled per UTC day (0: no limit).")
    ] = DEFAULT_QUOTA.per_owner_per_day,
    quota_global: Annotated[
        int, typer.Option(min=0, help="Images everyone may have labeled per UTC day (0: no limit).")
    ] = DEFAULT_QUOTA.global_per_day,
    quota_exempt: Annotated[
        list[str] | None,
        typer.Option(metavar="OWNER", help="An owner no quota applies to (repeatable) [default: cli]."),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the web page in a browser.")
    ] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the handlers' JSON logs.")] = False,
) -> None:
    """Run the whole system on this machine until Ctrl-C.

    Upload to the printed S3 endpoint (any S3 client) or through the web page; every upload runs
    through EventBridge, Step Functions and the three Lambda handlers, labeled by an offline model.
    """
    import logging
    import os
    import webbrowser

    if backend not in ("onnx", "rekognition"):
        raise typer.BadParameter("choose 'onnx' or 'rekognition'", param_hint="--backend")
    if not verbose:  # before the handlers import Powertools
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("labeler_tools").setLevel(logging.INFO)
    from labeler_tools.local.stack import LocalOptions, LocalStack

    options = LocalOptions(
        host=host,
        port=port,
        web_port=web_port,
        data_dir=data_dir,
        label_backend=backend,  # type: ignore[arg-type]
        min_confidence=min_confidence,
        max_labels=max_labels,
        persist=not ephemeral,
        fail_first_label_calls=fail_first_label_calls,
        quota=QuotaSpec(
            per_owner_per_day=quota_per_owner,
            global_per_day=quota_global,
            exempt_owners=tuple(quota_exempt) if quota_exempt else DEFAULT_QUOTA.exempt_owners,
        ),
    )
    stack = LocalStack(options, on_notification=_print_notification)
    with console.status("starting the local stack…"):
        try:
            discovery = stack.start()
        except OSError as error:
            stack.stop()
            console.print(
                f"[red]could not start: {error}[/] "
                "(is another `labeler local` running? try --port / --web-port)"
            )
            raise typer.Exit(1) from error
    _print_banner(discovery, options.data_dir)
    if open_browser:
        webbrowser.open(discovery.web_url)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    stopping.wait()
    with console.status("stopping: finishing running executions, saving state…"):
        stack.stop()
    console.print("stopped.")


def _print_banner(discovery: Discovery, data_dir: Path) -> None:
    endpoint, bucket = discovery.endpoint_url, discovery.upload_bucket
    lines = [
        f"[bold green]Image Labeler is running locally[/] ({discovery.label_backend} labels)",
        f"  web page      {discovery.web_url}",
        f"  AWS endpoint  {endpoint}  (region {discovery.region}, any credentials)",
        f"  upload        aws s3 cp photo.jpg s3://{bucket}/uploads/me/photo.jpg --endpoint-url {endpoint}",
        f"  discovery     {discovery_path(data_dir)}",
        "Press Ctrl-C to stop.",
    ]
    for line in lines:
        console.print(line, soft_wrap=True)


def _print_notification(body: dict[str, Any]) -> None:
    console.print(f"[yellow]{body['status']}[/] {body['key']}: {body['code']} {body['reason']}")


# --- operator commands: parse, call labeler_tools.ops, render, pick the exit status ---------------------

_TARGET = "Target (default: the running local stack)"
StackOption = Annotated[
    str | None,
    typer.Option(
        "--stack",
        metavar="NAME",
        envvar="LABELER_STACK",
        help="Work on this CloudFormation stack on AWS; every resource is read from its outputs.",
        rich_help_panel=_TARGET,
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        metavar="NAME", help="AWS profile for --stack (default: AWS_PROFILE).", rich_help_panel=_TARGET
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        metavar="NAME", help="AWS region for --stack (default: AWS_REGION).", rich_help_panel=_TARGET
    ),
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        metavar="URL",
        help="AWS endpoint of a local stack whose discovery file is elsewhere or missing.",
        rich_help_panel=_TARGET,
    ),
]
DataDirOption = Annotated[
    Path,
    typer.Option(
        metavar="DIR",
        help="Data dir of `labeler local`: its local.json says where it runs.",
        rich_help_panel=_TARGET,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
OwnerFilter = Annotated[
    str | None, typer.Option(metavar="OWNER", help="Only this owner's images (uploads/OWNER/...).")
]


def _when(text: str) -> datetime:
    from labeler_tools.ops.when import parse_when

    try:
        return parse_when(text)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error


SinceOption = Annotated[
    datetime | None,
    typer.Option(
        parser=_when, metavar="WHEN", help="From this time: 30m, 2h, 1d, 1w ago, or ISO-8601 (UTC)."
    ),
]
UntilOption = Annotated[
    datetime | None,
    typer.Option(parser=_when, metavar="WHEN", help="Up to this time (same forms as --since)."),
]


def _target(
    stack: str | None, profile: str | None, region: str | None, endpoint_url: str | None, data_dir: Path
) -> Target:
    from labeler_tools.ops.target import resolve_target

    return resolve_target(
        stack=stack, profile=profile, region=region, endpoint_url=endpoint_url, data_dir=data_dir
    )


def _fail(message: str) -> NoReturn:
    errors.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    raise typer.Exit(EXIT_USAGE)


def _warn(message: str) -> None:
    errors.print(Text.assemble(("warning:", "yellow"), " ", message), soft_wrap=True)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _progress() -> Progress:
    """Progress bars on stderr while a terminal watches, gone when done."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=errors, transient=True, disable=not errors.is_terminal)


def _poll_interval(target: Target) -> float:
    """How often waiting commands look: the local stack is next door, AWS calls are rate-limited."""
    return 0.2 if target.local else 2.0


@app.command()
def upload(
    paths: Annotated[
        list[str],
        typer.Argument(help="Files, folders (recursive) and globs like 'shots/**/*.jpg'."),
    ],
    owner: Annotated[str, typer.Option(metavar="OWNER", help="Upload to uploads/OWNER/.")] = "cli",
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Files uploaded at a time.")] = 8,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for each image's record; show its labels or why it failed.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(min=1, help="With --wait: give up after this many seconds.")
    ] = 900,
    as_json: JsonOption = False,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    data_dir: DataDirOption = Path(".labeler"),
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
    from labeler_tools.ops import render
    from labeler_tools.ops.upload import MAX_BYTES, check_owner, collect, plan, wait_for_records
    from labeler_tools.ops.upload import upload as put_files

    try:
        check_owner(owner)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--owner") from error
    files, problems = collect(paths)
    for problem in problems:
        _warn(problem)
    if not files:
        _fail("No files to upload.")
    target = _target(stack, profile, region, endpoint_url, data_dir)
    items = plan(files, owner)
    for item in items:
        if item.size > MAX_BYTES:
            _warn(f"{item.path} is over 15 MiB: it will be REJECTED (TOO_LARGE).")
    with _progress() as progress:
        task = progress.add_task(f"uploading to the {target.description}", total=len(items))
        done = put_files(target, items, concurrency, on_done=lambda _: progress.advance(task))
    if wait:
        with _progress() as progress:
            task = progress.add_task("waiting for records", total=len(done))
            done = wait_for_records(
                target,
                done,
                timeout,
                _poll_interval(target),
                on_progress=lambda finished, total: progress.update(task, completed=finished, total=total),
            )
    if as_json:
        _print_json([item.model_dump(mode="json") for item in done])
    else:
        console.print(render.uploads(done, waited=wait))
    if any(item.error or (wait and not item.labeled) for item in done):
        raise typer.Exit(EXIT_NOT_LABELED)


@app.command()
def status(
    keys: Annotated[list[str], typer.Argument(metavar="KEY", help="Object keys: uploads/OWNER/NAME.")],
    as_json: JsonOption = False,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    data_dir: DataDirOption = Path(".labeler"),
) -> None:
    """Show an image's record: its status, labels or why it failed, and the execution behind it.

    A deleted image shows its DELETED tombstone (kept until the table's TTL removes it).

    Exit status: 0 when every key is LABELED, 2 when some is not (or has no record yet, or was deleted).
    """
    from labeler_tools.ops import render
    from labeler_tools.ops.records import Records

    target = _target(stack, profile, region, endpoint_url, data_dir)
    records = Records(target.dynamodb, target.results_table)
    found = {key: records.get(key) for key in keys}
    if as_json:
        _print_json(
            {key: record.model_dump(mode="json") if record else None for key, record in found.items()}
        )
    for key, record in found.items():
        if record is None:
            _warn(f"no record for {key} (not uploaded, or not processed yet)")
        elif not as_json:
            link = target.console_url(record.execution_id) if record.execution_id else None
            console.print(render.record(record, link))
    if any(record is None or record.status != "LABELED" for record in found.values()):
        raise typer.Exit(EXIT_NOT_LABELED)


@app.command("list")
def list_records(
    record_status: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="LABELED, REJECTED, FAILED, DELETED (hidden otherwise), or any status the pipeline writes.",
        ),
    ] = None,
    owner: OwnerFilter = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: JsonOption = False,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    data_dir: DataDirOption = Path(".labeler"),
) -> None:
    """List image records, newest first.

    `--status FAILED` or `REJECTED` reads the failures index (quick on any table), `--owner` reads one
    owner's images, anything else scans the table. Deleted images (DELETED tombstones) are shown only
    with `--status DELETED`.

    Examples:

    * `labeler list --status FAILED --since 1h`
    * `labeler list --status FAILED --json | labeler replay --stdin`
    """
    from labeler_tools.ops import render
    from labeler_tools.ops.records import RecordQuery, Records

    target = _target(stack, profile, region, endpoint_url, data_dir)
    wanted = record_status.upper() if record_status else None
    query = RecordQuery(status=wanted, owner=owner, since=since, until=until, limit=limit)
    found = Records(target.dynamodb, target.results_table).find(query)
    if as_json:
        _print_json([record.model_dump(mode="json") for record in found])
    elif found:
        console.print(render.records(found))
    else:
        errors.print("no records match")


executions_app = typer.Typer(
    help="The pipeline's Step Functions executions: list them, or explain one state by state.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(executions_app, name="executions")


@executions_app.command("list")
def executions_list(
    execution_status: Annotated[
        ExecutionStatus | None,
        typer.Option("--status", case_sensitive=False, help="Only executions in this status."),
    ] = None,
    since: SinceOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: JsonOption = False,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    data_dir: DataDirOption = Path(".labeler"),
) -> None:
    """List executions, newest first, each with the image it is about.

    Example: `labeler executions list --status FAILED --since 2h`
    """
    from labeler_tools.ops import render
    from labeler_tools.ops.executions import list_executions

    target = _target(stack, profile, region, endpoint_url, data_dir)
    found = list_executions(target, status=execution_status, since=since, limit=limit)
    if as_json:
        _print_json([execution.model_dump(mode="json") for execution in found])
    elif found:
        console.print(render.executions(found))
    else:
        errors.print("no executions match")


@executions_app.command("show")
def executions_show(
    ident: Annotated[str, typer.Argument(metavar="ID", help="An execution ARN or name, or an image's key.")],
    as_json: JsonOption = False,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    data_dir: DataDirOption = Path(".labeler"),
) -> None:
    """Explain one execution state by state.

    Each state with when it started and how long it took; each try of a task with its error (the
    retries); the image, the outcome or the final error; on AWS, the console link. Given a key, the
    execution that wrote its record.

    Example: `labeler executions show uploads/cli/0f3c9e2a.jpg`
    """
    from labeler_tools.ops import render
    from labeler_tools.ops.executions import explain, find_execution

    target = _target(stack, profile, region, endpoint_url, data_dir)
    detail = explain(target, find_execution(target, ident))
    if as_json:
        _print_json(detail.model_dump(mode="json"))
    else:
        console.print(render.execution(detail))


@app.command()
def replay(
    since: SinceOption = None,
    until: UntilOption = None,
    replay_status: Annotated[
        Replayable,
        typer.Option("--status", case_sensitive=False, help="FAILED records, or (opt in) REJECTED ones."),
    ] = Replayable.FAILED,
    error: Annotated[
        str | None, typer.Option(metavar="CODE", help="Only this error code or error name.")
    ] = None,
    owner: OwnerFilter = None,
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
    timeout: Annotated[
        float, typer.Option(min=1, help="With --wait: give up after this many seconds.")
    ] = 900,
    as_json: JsonOption = False,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    data_dir: DataDirOption = Path(".labeler"),
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
    from labeler_tools.ops import render
    from labeler_tools.ops.replay import Replay, Selection, parse_items, summarize

    target = _target(stack, profile, region, endpoint_url, data_dir)
    items = [*(keys or []), *(parse_items(sys.stdin.read()) if from_stdin else [])]
    selection = Selection(
        status=replay_status, since=since, until=until, error=error, owner=owner, items=tuple(items)
    )
    run = Replay(target, selection)
    with errors.status(f"planning on the {target.description}"):
        plan = run.plan(run.candidates())
    if not plan:
        if as_json:
            _print_json({"summary": summarize(plan, waited=wait).model_dump(mode="json"), "items": []})
        else:
            errors.print(f"Nothing to replay: no {selection.status.value} records match.")
        return
    if dry_run:
        if as_json:
            _print_json({"dry_run": True, "items": [item.model_dump(mode="json") for item in plan]})
        else:
            console.print(render.replay_items(plan, title="Replay plan (dry run: nothing started)"))
        return
    try:
        done = _start_and_follow(run, plan, max_rate, timeout if wait else None)
    except KeyboardInterrupt:
        errors.print("Interrupted: what was started keeps running; run the same replay again to follow it.")
        raise typer.Exit(130) from None
    summary = summarize(done, waited=wait)
    if as_json:
        _print_json(
            {
                "summary": summary.model_dump(mode="json"),
                "items": [item.model_dump(mode="json") for item in done],
            }
        )
    else:
        console.print(render.replay_items(done, title="Replay"))
        console.print(render.replay_summary(summary))
    if not summary.ok:
        raise typer.Exit(EXIT_NOT_LABELED)


@app.command()
def delete(
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
    timeout: Annotated[
        float, typer.Option(min=1, help="With --wait: give up after this many seconds.")
    ] = 300,
    as_json: JsonOption = False,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    data_dir: DataDirOption = Path(".labeler"),
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
    from labeler_tools.ops import render
    from labeler_tools.ops.delete import Deleter, summarize
    from labeler_tools.ops.replay import parse_items

    items = [*(keys or []), *(parse_items(sys.stdin.read()) if from_stdin else [])]
    if not items:
        _fail("no keys: give KEY arguments or --stdin")
    target = _target(stack, profile, region, endpoint_url, data_dir)
    deleter = Deleter(target)
    with _progress() as progress:
        task = progress.add_task("deleting", total=len(set(items)))
        done = deleter.delete(items, on_item=lambda _: progress.advance(task))
    if wait and any(item.deleted for item in done):
        with _progress() as progress:
            task = progress.add_task("waiting for the cleanup", total=None)
            done = deleter.wait(
                done,
                timeout,
                _poll_interval(target),
                on_progress=lambda cleaned, total: progress.update(task, completed=cleaned, total=total),
            )
    summary = summarize(done, waited=wait)
    if as_json:
        _print_json(
            {
                "summary": summary.model_dump(mode="json"),
                "items": [item.model_dump(mode="json") for item in done],
            }
        )
    else:
        console.print(render.deletions(done, summary))
    if not summary.ok:
        raise typer.Exit(EXIT_NOT_LABELED)


def _start_and_follow(
    run: Replay, plan: Sequence[ReplayItem], max_rate: float, timeout: float | None
) -> list[ReplayItem]:
    """Start (rate-limited), then, with a timeout, wait for every execution to finish."""
    with _progress() as progress:
        task = progress.add_task("starting", total=len(plan))
        started = run.start(plan, max_rate, on_item=lambda _: progress.advance(task))
    if timeout is None:
        return started
    with _progress() as progress:
        task = progress.add_task("waiting for executions", total=None)
        return run.wait(
            started,
            timeout,
            _poll_interval(run.target),
            on_progress=lambda finished, total: progress.update(task, completed=finished, total=total),
        )


if __name__ == "__main__":
    app()
