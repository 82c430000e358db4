"""How the operator commands look in a terminal: rich tables and key/value panels.

Only presentation lives here; ``--json`` output is the models themselves.

Every row is one line. At 80 columns (what rich assumes when output is piped) the longer cells (keys,
file names, reasons) are shortened with an ellipsis and low-value columns are left out or abbreviated;
times, statuses and counts are never shortened. ``wide`` adds those columns back, and
:func:`labeler_tools.cli.core.show` prints a wide table as wide as it needs, so nothing is shortened.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

from labeler.aws.label_index import IndexEntry, LabelCount
from labeler.models import ExecutionStatus, ImageStatus, Label, ResultRecord
from labeler_tools.ops.backfill import DryRun
from labeler_tools.ops.backfill import RunProgress as BackfillProgress
from labeler_tools.ops.delete import DeleteItem, DeleteSummary
from labeler_tools.ops.executions import ExecutionDetail, ExecutionSummary, StateRun
from labeler_tools.ops.records import StoredRecord, UnreadableRecord
from labeler_tools.ops.replay import Action, ReplayItem, Summary
from labeler_tools.ops.upload import Upload

#: Shown where there is no value.
NONE = "-"
_STYLES: dict[str, str] = {
    ImageStatus.LABELED: "green",
    ExecutionStatus.SUCCEEDED: "green",
    ImageStatus.REJECTED: "yellow",
    ImageStatus.FAILED: "red",  # and ExecutionStatus.FAILED: the same string
    ExecutionStatus.TIMED_OUT: "red",
    ExecutionStatus.ABORTED: "red",
    ImageStatus.PROCESSING: "cyan",
    ExecutionStatus.RUNNING: "cyan",
    ExecutionStatus.PENDING_REDRIVE: "cyan",
    ImageStatus.DELETED: "magenta",
}
#: The widest a file name column gets at 80 columns (keys and reasons need the room more).
_FILE_WIDTH = 20
#: Labels shown in a row (all of them with ``wide``).
_LABELS_SHOWN = 3

#: The widest an owner column gets at 80 columns (a page guest's identity id is shown by its start).
_OWNER_WIDTH = 16
#: A page guest's identity id: ``<region>:<uuid>``.
_IDENTITY_ID = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+:(?P<id>[0-9a-f]{8})-[0-9a-f-]{27}$")

Cell = str | Text | None


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


def moment(value: datetime | str | None, short: bool = False) -> str:
    """UTC, to the second: ``2026-11-26 19:47:05``; ``short``: ``11-26 19:47`` (for a table's rows)."""
    if not value:
        return NONE
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S")


def labels(found: Sequence[Label], most: int | None = _LABELS_SHOWN) -> str:
    return ", ".join(f"{label.name} {label.confidence:.0f}%" for label in found[:most])


def outcome(record: StoredRecord, wide: bool = False) -> Text:
    """Labels of a LABELED record, the code and reason of a failure, the stage of one in progress;
    for an unreadable record, what this CLI cannot read."""
    if isinstance(record, UnreadableRecord):
        return Text(f"unreadable: {record.problem}", style="red")
    if record.status is ImageStatus.DELETED:
        return Text("deleted by its uploader or an operator")
    if record.labels:
        return Text(labels(record.labels, most=None if wide else _LABELS_SHOWN))
    if record.error_code or record.reason:
        return Text(f"{record.error_code or ''}: {record.reason or ''}".strip(": "))
    return Text((record.stage or "").lower())


def _name(arn: str | None) -> str | None:
    """An execution's name: the end of its ARN (``labeler executions show`` takes either)."""
    return arn.rsplit(":", 1)[-1] if arn else None


@dataclass(frozen=True)
class _Col:
    """A table column. ``fixed``: never shortened (times, statuses, counts). The others are shortened
    when a row is too wide, their cells ending in an ellipsis: see :meth:`_Rows.table`."""

    header: str
    fixed: bool = False
    gives: int = 0
    max_width: int | None = None
    #: Left out when no row has a value (no record has the uploader's file name, say).
    optional: bool = False


#: Characters a column that gives way keeps, at least (or its header's).
_LEAST = 14
#: Between two columns (padding collapsed, no edges).
_GAP = 2
_TIME = _Col("Time (UTC)", fixed=True)
_STATUS = _Col("Status", fixed=True)
_KEY = _Col("Key")


def _file(wide: bool) -> _Col:
    return _Col("File", gives=1, max_width=None if wide else _FILE_WIDTH, optional=True)


def _reason(header: str) -> _Col:
    return _Col(header, gives=2)


def _cell(value: Cell) -> Text:
    """One line, shortened with an ellipsis when its column is; plain text, never markup."""
    if value is None:
        return Text(NONE, style="dim", no_wrap=True, overflow="ellipsis")
    text = Text(value) if isinstance(value, str) else value.copy()
    text.no_wrap, text.overflow = True, "ellipsis"
    return text


@dataclass(frozen=True)
class _Rows:
    """A table of one line per row, laid out for the width it is printed in."""

    columns: Sequence[_Col]
    rows: Sequence[Sequence[Text]]
    title: str | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table(None))

    def table(self, width: int | None) -> Table:
        """For ``width`` columns (None: as wide as the cells). Columns give way in turn, the highest
        ``gives`` first (a reason, then a file name), each down to ``_LEAST`` characters, when that
        leaves the last one (the key) whole; otherwise rich narrows the widest first."""
        caps = self._caps(width) if width else {}
        table = Table(
            *(
                Column(
                    Text(column.header, no_wrap=True, overflow="ellipsis"),
                    no_wrap=column.fixed,
                    overflow="ellipsis",
                    max_width=caps.get(index, column.max_width),
                )
                for index, column in enumerate(self.columns)
            ),
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            collapse_padding=True,
            title=self.title,
            title_justify="left",
            title_style="bold",
        )
        for row in self.rows:
            table.add_row(*row)
        return table

    def _caps(self, width: int) -> dict[int, int]:
        natural = [
            min(
                max([len(column.header), *(row[index].cell_len for row in self.rows)]),
                column.max_width or width,
            )
            for index, column in enumerate(self.columns)
        ]
        giving = sorted(
            (index for index, column in enumerate(self.columns) if not column.fixed),
            key=lambda index: -self.columns[index].gives,
        )
        excess = sum(natural) + _GAP * (len(natural) - 1) - width
        caps = {}
        for index in giving[:-1]:
            if excess <= 0:
                break
            least = max(_LEAST, len(self.columns[index].header))
            cut = min(excess, max(natural[index] - least, 0))
            caps[index], excess = natural[index] - cut, excess - cut
        return caps if excess <= 0 else {}


def _table(columns: Sequence[_Col], rows: Sequence[Sequence[Cell]], title: str | None = None) -> _Rows:
    kept = [
        index
        for index, column in enumerate(columns)
        if not column.optional or any(row[index] is not None for row in rows)
    ]
    cells = [[_cell(row[index]) for index in kept] for row in rows]
    return _Rows([columns[index] for index in kept], cells, title)


def _fields(rows: Sequence[tuple[str, Cell]]) -> Table:
    """A name / value panel, one line per field; fields without a value are left out."""
    grid = Table.grid(Column(style="bold", no_wrap=True), Column(overflow="ellipsis"), padding=(0, 2))
    for name, value in rows:
        if value not in (None, ""):
            grid.add_row(name, _cell(value))
    return grid


def _copy_only(wide: bool, value: str | None) -> Cell:
    """A value only worth showing whole (a link): with ``wide``; else a hint that ``--wide`` has it."""
    if value is None or wide:
        return value
    return Text("(--wide shows it)", style="dim")


def records(found: Sequence[StoredRecord], wide: bool = False) -> RenderableType:
    columns = [_TIME, _STATUS, _file(wide), _KEY, _reason("Labels / reason")]
    rows = [
        [
            moment(record.timestamp, short=not wide),
            status(record.status),
            record.original_name,
            record.image_name,
            outcome(record, wide),
            *([_name(record.execution_id) if isinstance(record, ResultRecord) else None] if wide else []),
        ]
        for record in found
    ]
    return _table([*columns, *([_Col("Execution", gives=1)] if wide else [])], rows)


def label_counts(found: Sequence[LabelCount], more: int = 0) -> RenderableType:
    """One row per label, most images first; ``more``: labels left out by ``--limit``."""
    rows: list[list[Cell]] = [[count.name, str(count.images)] for count in found]
    table = _table([_Col("Label"), _Col("Images", fixed=True)], rows)
    if more:
        return Group(table, Text(f"... and {more} more (raise --limit to see them)", style="dim"))
    return table


def short_owner(owner: str) -> str:
    """A page guest's identity id (``us-east-1:7f3c2a1b-...``) as the start of its id, ``7f3c2a1b…``;
    any other owner (``cli``, ``library:photos``) as it is."""
    guest = _IDENTITY_ID.match(owner)
    return f"{guest['id']}…" if guest else owner


def file_name(entry: IndexEntry) -> str:
    """The uploader's file name, else the last part of the key."""
    return entry.original_name or entry.image_name.rsplit("/", 1)[-1]


def labeled_images(found: Sequence[IndexEntry], wide: bool = False, owners: bool = True) -> RenderableType:
    """One row per image a label finds, newest upload first: when, its file name, the label it was
    found by (its own, or a parent) and with what confidence, and (``owners``) whose it is. ``wide``
    adds the key and shows owners whole."""
    columns = [
        _Col("Uploaded (UTC)", fixed=True),
        _Col("File", gives=2, max_width=None if wide else _FILE_WIDTH),
        *([_KEY] if wide else []),
        _Col("Label", gives=1),
        _Col("Confidence", fixed=True),
        *([_Col("Owner", max_width=None if wide else _OWNER_WIDTH)] if owners else []),
    ]
    rows = [
        [
            moment(entry.uploaded_at, short=not wide),
            file_name(entry),
            *([entry.image_name] if wide else []),
            entry.label,
            f"{entry.confidence:.1f}%",
            *([entry.owner if wide else short_owner(entry.owner)] if owners else []),
        ]
        for entry in found
    ]
    return _table(columns, rows)


def _unreadable(found: UnreadableRecord) -> RenderableType:
    note = Text.assemble(
        ("This record is unreadable by this CLI", "bold red"),
        " (a newer pipeline wrote it?): ",
        found.problem,
    )
    return Group(note, _fields([(name, str(value)) for name, value in sorted(found.fields.items())]))


def record(found: StoredRecord, console_url: str | None, wide: bool = False) -> RenderableType:
    if isinstance(found, UnreadableRecord):
        return _unreadable(found)
    size = f"{found.width}x{found.height} {found.format}" if found.width and found.height else found.format
    rows: list[tuple[str, Cell]] = [
        ("key", found.image_name),
        ("status", status(found.status)),
        ("stage", found.stage),
        ("file name", found.original_name),
        ("image", size),
        ("bytes", str(found.size) if found.size else None),
        ("uploaded", moment(found.uploaded_at)),
        ("recorded", moment(found.timestamp)),
        ("code", found.error_code),
        ("reason", found.reason),
        ("failed in", found.failed_state),
        ("model", found.label_model_version),
        ("forgotten", moment(datetime.fromtimestamp(found.expires_at, UTC)) if found.expires_at else None),
        ("execution", found.execution_id if wide else _name(found.execution_id)),
        ("console", _copy_only(wide, console_url)),
    ]
    parts: list[RenderableType] = [_fields(rows)]
    if found.status is ImageStatus.DELETED:
        parts.insert(0, Text("This image was deleted: its object and labels are gone.", style="magenta"))
    if found.labels:
        label_rows = [
            [label.name, f"{label.confidence:.1f}%", ", ".join(label.parents)] for label in found.labels
        ]
        parts.append(_table([_Col("Label"), _Col("Confidence", fixed=True), _reason("Parents")], label_rows))
    return Group(*parts)


def executions(found: Sequence[ExecutionSummary], wide: bool = False) -> RenderableType:
    columns = [_Col("Start (UTC)", fixed=True), _STATUS, _Col("Took", fixed=True)]
    columns += [_Col("Name", gives=1), _KEY] if wide else [_KEY]
    rows = [
        [
            moment(execution.started, short=not wide),
            status(execution.status),
            duration(execution.duration_s),
            *([execution.name] if wide else []),
            execution.key,
        ]
        for execution in found
    ]
    return _table(columns, rows)


def _state_result(run: StateRun) -> Text:
    if not run.attempts:
        return Text("")
    last = run.attempts[-1]
    if last.error is not None:
        return Text(f"{last.error}", style="red")
    if last.ended is None:
        return Text("running" if run.exited is None else "", style="cyan")
    return Text(f"ok after {run.retries} retries" if run.retries else "ok", style="green")


def timeline(detail: ExecutionDetail, wide: bool = False) -> RenderableType:
    """One row per state entered, and one per try of a task that was retried or failed. ``Type``
    (Task, Choice, Pass, ...) only with ``wide``: the state's name says enough."""
    start = detail.execution.started

    def row(
        number: str, state: Cell, kind: str, at: datetime, took: float | None, result: Text
    ) -> list[Cell]:
        offset = f"+{duration((at - start).total_seconds())}"
        return [number, state, *([kind] if wide else []), offset, duration(took), result]

    rows: list[list[Cell]] = []
    for number, run in enumerate(detail.states, 1):
        took = (run.exited - run.entered).total_seconds() if run.exited else None
        rows.append(row(str(number), run.name, run.type, run.entered, took, _state_result(run)))
        if run.retries or (run.attempts and run.attempts[-1].error):
            for attempt_number, attempt in enumerate(run.attempts, 1):
                spent = (attempt.ended - attempt.started).total_seconds() if attempt.ended else None
                result = (
                    Text(f"{attempt.error}: {attempt.message or ''}".rstrip(": "), style="red")
                    if attempt.error
                    else Text("ok", style="green")
                )
                try_name = Text(f"  try {attempt_number}", style="dim")
                rows.append(row("", try_name, "", attempt.started, spent, result))
    fixed = [_Col("#", fixed=True), _Col("State", fixed=True)]
    timing = [_Col("Start", fixed=True), _Col("Took", fixed=True), _reason("Result")]
    return _table([*fixed, *([_Col("Type", fixed=True)] if wide else []), *timing], rows)


def execution(detail: ExecutionDetail, wide: bool = False) -> RenderableType:
    summary, ref = detail.execution, detail.object
    outcome_labels = f"  {', '.join(detail.labels)}" if detail.labels else ""
    rows: list[tuple[str, Cell]] = [
        ("execution", summary.name),
        ("status", status(summary.status)),
        ("started", moment(summary.started)),
        ("took", duration(summary.duration_s)),
        ("object", f"s3://{ref.bucket}/{ref.key}" if ref else None),
        ("version", ref.version_id if ref else None),
        ("bytes", str(ref.size) if ref else None),
        ("outcome", Text.assemble(status(detail.outcome), outcome_labels) if detail.outcome else None),
        ("error", Text(detail.error, style="red") if detail.error else None),
        ("cause", detail.message),
        ("redrives", str(detail.redrive_count) if detail.redrive_count else None),
        (
            "redrive",
            f"{detail.redrive_status} {detail.redrive_status_reason or ''}".strip()
            if detail.redrive_status
            else None,
        ),
        ("arn", summary.arn if wide else None),
        ("console", _copy_only(wide, detail.console_url)),
    ]
    return Group(_fields(rows), timeline(detail, wide))


def uploads(done: Sequence[Upload], waited: bool, wide: bool = False) -> RenderableType:
    """One row per file: its name (with ``wide``: the path as given), its key, and whether it was
    uploaded or (after ``--wait``) its status and labels or reason."""
    columns = [_file(wide), _KEY, *([_Col("Bytes", fixed=True)] if wide else [])]
    columns += [_STATUS, _reason("Labels / reason")] if waited else [_reason("Result")]
    rows = [
        [
            str(item.path) if wide else item.path.name,
            item.key,
            *([str(item.size)] if wide else []),
            *_upload_result(item, waited, wide),
        ]
        for item in done
    ]
    return _table(columns, rows)


def _upload_result(item: Upload, waited: bool, wide: bool) -> list[Cell]:
    if not waited:
        return [Text(item.error, style="red") if item.error else Text("uploaded", style="green")]
    if item.error:
        return [Text("upload failed", style="red"), item.error]
    if item.record is None:
        return [status(None), "no record yet"]
    return [status(item.record.status), outcome(item.record, wide)]


_ACTION_STYLES = {
    Action.RESTART: "green",
    Action.REDRIVE: "green",
    Action.RUNNING: "cyan",
    Action.SKIP: "dim",
}


def replay_items(
    items: Sequence[ReplayItem], title: str, wide: bool = False, most: int = 50
) -> RenderableType:
    """Items that need a look: all of a plan, or after ``--wait`` those not LABELED; at most ``most``.
    ``wide`` adds the execution each item started or follows (and, after ``--wait``, how it ran)."""
    waited = any(item.execution_status is not None for item in items)
    shown = [item for item in items if not (waited and item.status_after is ImageStatus.LABELED)]
    if not shown:
        return Text(f"{title}: every replayed image is LABELED.")
    columns = [_file(wide), _KEY, _Col("Was", fixed=True), _Col("Action", fixed=True), _reason("Why")]
    if wide:
        columns.append(_Col("Execution", gives=1))
    if waited:
        columns += [_Col("Run", fixed=True), _Col("Now", fixed=True)] if wide else [_Col("Now", fixed=True)]
    rows = []
    for item in shown[:most]:
        row: list[Cell] = [
            item.original_name,
            item.key,
            status(item.status_before),
            Text(item.action.value, style=_ACTION_STYLES[item.action]),
            Text(item.error, style="red") if item.error else item.reason,
        ]
        row += [_name(item.execution_arn)] if wide else []
        if waited:
            row += ([status(item.execution_status)] if wide else []) + [status(item.status_after)]
        rows.append(row)
    table = _table(columns, rows, title=title)
    if len(shown) > most:
        return Group(table, Text(f"... and {len(shown) - most} more (--json lists every item)", style="dim"))
    return table


def replay_summary(summary: Summary) -> RenderableType:
    unknown = "? (use --wait)"
    counts = [
        ("replayed (new execution)", str(summary.replayed)),
        ("redriven", str(summary.redriven)),
        ("already running", str(summary.running)),
        ("succeeded", unknown if summary.succeeded is None else str(summary.succeeded)),
        ("still failing", unknown if summary.still_failing is None else str(summary.still_failing)),
        ("skipped", str(summary.skipped)),
        ("errors", str(summary.errors)),
    ]
    rows: list[list[Cell]] = []
    for name, value in counts:
        bad = name in ("still failing", "errors") and value not in ("0", unknown)
        rows.append([name, Text(value, style="red" if bad else "")])
    return _table([_Col("", fixed=True), _Col("Items", fixed=True)], rows, title="Replay summary")


def _delete_result(item: DeleteItem) -> Text:
    """A word: deleted (cleanup follows), DELETED / removed (cleaned up), pending, or error."""
    if item.error:
        return Text("error", style="red")
    if item.cleaned_up:
        return Text(item.status_after or "removed", style="green")  # DELETED: a tombstone is left
    if item.cleaned_up is False:
        return Text("pending", style="yellow")
    return Text("deleted", style="green")


def deletions(items: Sequence[DeleteItem], summary: DeleteSummary, wide: bool = False) -> RenderableType:
    """One line per key (``wide`` adds the record's status before and after, and the delete marker),
    then each error in full under the table."""
    parts = [f"{summary.deleted} deleted", f"{summary.errors} not deleted"]
    if summary.cleaned_up is not None:
        parts.insert(1, f"{summary.cleaned_up} cleaned up, {summary.pending} pending")
    columns = [_Col("Result", fixed=True), _file(wide), _KEY]
    columns += (
        [_Col("Before", fixed=True), _Col("After", fixed=True), _reason("Delete marker")] if wide else []
    )
    rows = [
        [
            _delete_result(item),
            item.original_name,
            item.key,
            *([status(item.status_before), status(item.status_after), item.delete_marker] if wide else []),
        ]
        for item in items
    ]
    table = _table(columns, rows, title="Delete: " + ", ".join(parts))
    failures = [
        Text.assemble(("error: ", "bold red"), item.key, ": ", item.error) for item in items if item.error
    ]
    return Group(table, *failures) if failures else table


def backfill_dry_run(plan: DryRun) -> RenderableType:
    """Counts by reason (labeled, then skipped) and the AWS estimate."""
    rows: list[list[Cell]] = [
        [Text("label", style="green"), reason, str(count)] for reason, count in plan.labeled_because.items()
    ]
    rows += [
        [Text("skip", style="dim"), reason, str(count)] for reason, count in plan.skipped_because.items()
    ]
    table = _table(
        [_Col("", fixed=True), _Col("Why"), _Col("Objects", fixed=True)],
        rows,
        title=f"Dry run of {plan.run.name}",
    )
    quota = (
        "counts against the site's daily limit (objects over it fail)"
        if plan.run.global_quota
        else "the site's daily limit is lifted"
    )
    estimate = plan.estimate
    summary = _fields(
        [
            ("listed", f"{plan.listed} under s3://{plan.run.bucket}/{plan.run.prefix}"),
            ("to label", f"{plan.to_label} ({plan.run.mode.value})"),
            (
                "on AWS, about",
                f"${estimate.dollars:,.2f} (DetectLabels ${estimate.rekognition_dollars:,.2f}), list prices",
            ),
            ("quota", quota),
        ]
    )
    return Group(table, summary)


def backfill_progress(progress: BackfillProgress) -> RenderableType:
    return _fields(
        [
            ("run", progress.name),
            ("status", status(progress.status.value)),
            ("objects", str(progress.total)),
            ("done", str(progress.succeeded)),
            ("failed", Text(str(progress.failed), style="red" if progress.failed else "")),
            ("in flight", str(progress.running + progress.pending) if not progress.status.finished else None),
            ("error", progress.error),
            ("cause", progress.cause),
            ("item results", progress.results_manifest),
        ]
    )
