"""How the operator commands look in a terminal: rich tables and key/value panels.

Only presentation lives here; ``--json`` output is the models themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from rich import box
from rich.console import Group, RenderableType
from rich.table import Column, Table
from rich.text import Text

from labeler.models import Label
from labeler_tools.ops.delete import DeleteItem, DeleteSummary
from labeler_tools.ops.executions import ExecutionDetail, ExecutionSummary, StateRun
from labeler_tools.ops.records import RecordView
from labeler_tools.ops.replay import Action, ReplayItem, Summary
from labeler_tools.ops.upload import Upload

#: Shown where there is no value.
NONE = "-"
_STYLES = {
    "LABELED": "green",
    "SUCCEEDED": "green",
    "REJECTED": "yellow",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "ABORTED": "red",
    "PROCESSING": "cyan",
    "RUNNING": "cyan",
    "PENDING_REDRIVE": "cyan",
    "DELETED": "magenta",
}


def status(value: str | None) -> Text:
    """A status in its colour; statuses this CLI does not know are shown plainly, never refused."""
    if value is None:
        return Text(NONE, style="dim")
    return Text(value, style=_STYLES.get(value, "bold"))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def moment(value: datetime | str | None) -> str:
    """UTC, to the second: ``2026-11-26 19:47:05``."""
    if not value:
        return NONE
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def labels(found: Sequence[Label], most: int = 3) -> str:
    return ", ".join(f"{label.name} {label.confidence:.0f}%" for label in found[:most])


def outcome(record: RecordView) -> str:
    """Labels of a LABELED record, the code and reason of a failure, the stage of one in progress."""
    if record.deleted:
        return "deleted by its uploader or an operator"
    if record.labels:
        return labels(record.labels)
    if record.error_code or record.reason:
        return f"{record.error_code or ''}: {record.reason or ''}".strip(": ")
    return (record.stage or "").lower()


#: Columns kept on one line (a key is for copying, a time for reading); other cells wrap.
_ONE_LINE = frozenset({"Key", "Time (UTC)", "Started (UTC)"})


def _table(*columns: str, title: str | None = None) -> Table:
    """Cells never lose characters: keys and ARNs are for copying."""
    return Table(
        *(Column(column, overflow="fold", no_wrap=column in _ONE_LINE) for column in columns),
        box=box.SIMPLE_HEAD,
        show_edge=False,
        title=title,
        title_justify="left",
        title_style="bold",
    )


def records(found: Sequence[RecordView]) -> Table:
    table = _table("Time (UTC)", "Status", "Key", "Labels / reason")
    for record in found:
        table.add_row(moment(record.timestamp), status(record.status), record.key, outcome(record))
    return table


def _fields(rows: Sequence[tuple[str, RenderableType | str | None]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for name, value in rows:
        if value not in (None, ""):
            grid.add_row(name, value)
    return grid


def record(found: RecordView, console_url: str | None) -> RenderableType:
    size = f"{found.width}x{found.height} {found.format}" if found.width and found.height else found.format
    rows: list[tuple[str, RenderableType | str | None]] = [
        ("key", found.key),
        ("status", status(found.status)),
        ("stage", found.stage),
        ("file name", found.original_name),
        ("image", size),
        ("bytes", str(found.size) if found.size is not None else None),
        ("uploaded", moment(found.uploaded_at)),
        ("recorded", moment(found.timestamp)),
        ("code", found.error_code),
        ("reason", found.reason),
        ("failed in", found.failed_state),
        ("model", found.label_model_version),
        ("forgotten", moment(datetime.fromtimestamp(found.expires_at, UTC)) if found.expires_at else None),
        ("execution", found.execution_id),
        ("console", console_url),
    ]
    parts: list[RenderableType] = [_fields(rows)]
    if found.deleted:
        parts.insert(0, Text("This image was deleted: its object and labels are gone.", style="magenta"))
    if found.labels:
        table = _table("Label", "Confidence", "Parents")
        for label in found.labels:
            table.add_row(label.name, f"{label.confidence:.1f}%", ", ".join(label.parents))
        parts.append(table)
    return Group(*parts)


def executions(found: Sequence[ExecutionSummary]) -> Table:
    table = _table("Started (UTC)", "Status", "Took", "Name", "Key")
    for execution in found:
        table.add_row(
            moment(execution.started),
            status(execution.status),
            duration(execution.duration_s),
            execution.name,
            execution.key or NONE,
        )
    return table


def _state_result(run: StateRun) -> Text:
    if not run.attempts:
        return Text("")
    last = run.attempts[-1]
    if last.error is not None:
        return Text(f"{last.error}", style="red")
    if last.ended is None:
        return Text("running" if run.exited is None else "", style="cyan")
    return Text(f"ok after {run.retries} retries" if run.retries else "ok", style="green")


def timeline(detail: ExecutionDetail) -> Table:
    start = detail.execution.started
    table = _table("#", "State", "Type", "Start", "Took", "Result")
    for number, run in enumerate(detail.states, 1):
        took = (run.exited - run.entered).total_seconds() if run.exited else None
        offset = f"+{duration((run.entered - start).total_seconds())}"
        table.add_row(str(number), run.name, run.type, offset, duration(took), _state_result(run))
        if run.retries or (run.attempts and run.attempts[-1].error):
            for attempt_number, attempt in enumerate(run.attempts, 1):
                spent = (attempt.ended - attempt.started).total_seconds() if attempt.ended else None
                result = (
                    Text(f"{attempt.error}: {attempt.message or ''}".rstrip(": "), style="red")
                    if attempt.error
                    else Text("ok", style="green")
                )
                at = f"+{duration((attempt.started - start).total_seconds())}"
                table.add_row(
                    "", Text(f"  try {attempt_number}", style="dim"), "", at, duration(spent), result
                )
    return table


def execution(detail: ExecutionDetail) -> RenderableType:
    summary, ref = detail.execution, detail.object
    rows: list[tuple[str, RenderableType | str | None]] = [
        ("execution", summary.name),
        ("status", status(summary.status)),
        ("started", moment(summary.started)),
        ("took", duration(summary.duration_s)),
        ("object", f"s3://{ref.bucket}/{ref.key}" if ref else None),
        ("version", ref.version_id if ref else None),
        ("bytes", str(ref.size) if ref else None),
        (
            "outcome",
            Text.assemble(status(detail.outcome), f"  {', '.join(detail.labels)}")
            if detail.outcome
            else None,
        ),
        ("error", Text(detail.error, style="red") if detail.error else None),
        ("cause", detail.message),
        ("redrives", str(detail.redrive_count) if detail.redrive_count else None),
        (
            "redrive",
            f"{detail.redrive_status} {detail.redrive_status_reason or ''}".strip()
            if detail.redrive_status
            else None,
        ),
        ("arn", summary.arn),
        ("console", detail.console_url),
    ]
    return Group(_fields(rows), timeline(detail))


def uploads(done: Sequence[Upload], waited: bool) -> Table:
    columns = ("File", "Key", "Status", "Labels / reason") if waited else ("File", "Key", "Bytes", "Result")
    table = _table(*columns)
    for item in done:
        if item.error:
            table.add_row(str(item.path), item.key, Text("upload failed", style="red"), item.error)
        elif not waited:
            table.add_row(str(item.path), item.key, str(item.size), Text("uploaded", style="green"))
        elif item.record is None:
            table.add_row(str(item.path), item.key, status(None), "no record yet")
        else:
            table.add_row(str(item.path), item.key, status(item.record.status), outcome(item.record))
    return table


_ACTION_STYLES = {
    Action.RESTART: "green",
    Action.REDRIVE: "green",
    Action.RUNNING: "cyan",
    Action.SKIP: "dim",
}


def replay_items(items: Sequence[ReplayItem], title: str, most: int = 50) -> RenderableType:
    """Items that need a look: all of a plan, or after ``--wait`` those not LABELED; at most ``most``."""
    waited = any(item.execution_status is not None for item in items)
    shown = [item for item in items if not (waited and item.status_after == "LABELED")]
    if not shown:
        return Text(f"{title}: every replayed image is LABELED.")
    columns = ["Key", "Was", "Action", "Why"] + (["Execution", "Now"] if waited else [])
    table = _table(*columns, title=title)
    for item in shown[:most]:
        row: list[RenderableType] = [
            item.key,
            status(item.status_before),
            Text(item.action.value, style=_ACTION_STYLES[item.action]),
            Text(item.error, style="red") if item.error else item.reason,
        ]
        if waited:
            row += [status(item.execution_status), status(item.status_after)]
        table.add_row(*row)
    if len(shown) > most:
        return Group(table, Text(f"... and {len(shown) - most} more (--json lists every item)", style="dim"))
    return table


def replay_summary(summary: Summary) -> Table:
    table = _table("", "Items", title="Replay summary")
    unknown = "? (use --wait)"
    rows = [
        ("replayed (new execution)", str(summary.replayed)),
        ("redriven", str(summary.redriven)),
        ("already running", str(summary.running)),
        ("succeeded", unknown if summary.succeeded is None else str(summary.succeeded)),
        ("still failing", unknown if summary.still_failing is None else str(summary.still_failing)),
        ("skipped", str(summary.skipped)),
        ("errors", str(summary.errors)),
    ]
    for name, value in rows:
        style = "red" if name in ("still failing", "errors") and value not in ("0", unknown) else None
        table.add_row(name, Text(value, style=style or ""))
    return table


def _delete_result(item: DeleteItem) -> Text:
    """A word: deleted (cleanup follows), DELETED / removed (cleaned up), pending, or error."""
    if item.error:
        return Text("error", style="red")
    if item.cleaned_up:
        return Text("DELETED" if item.status_after else "removed", style="green")
    if item.cleaned_up is False:
        return Text("pending", style="yellow")
    return Text("deleted", style="green")


def deletions(items: Sequence[DeleteItem], summary: DeleteSummary) -> RenderableType:
    """One line per key, also at 80 columns (a long key is shortened; ``--json`` has it whole), then
    each error in full under the table."""
    parts = [f"{summary.deleted} deleted", f"{summary.errors} not deleted"]
    if summary.cleaned_up is not None:
        parts.insert(1, f"{summary.cleaned_up} cleaned up, {summary.pending} pending")
    table = Table(
        Column("Result", no_wrap=True, min_width=7),
        Column("File", no_wrap=True, overflow="ellipsis", min_width=12, max_width=24),
        Column("Key", no_wrap=True, overflow="ellipsis", ratio=1),
        box=box.SIMPLE_HEAD,
        show_edge=False,
        title="Delete: " + ", ".join(parts),
        title_justify="left",
        title_style="bold",
    )
    for item in items:
        table.add_row(_delete_result(item), item.original_name or NONE, item.key)
    failures = [
        Text.assemble(("error: ", "bold red"), item.key, ": ", item.error) for item in items if item.error
    ]
    return Group(table, *failures) if failures else table
