"""Step Functions executions for operators: list them, and explain one as a timeline of its states.

The timeline is rebuilt from the execution history: one row per state entered, with each attempt of a
task (the first try and every retry), its error, and how long it took. The same reading tells replay
whether an execution stopped inside a task (a redrive would resume there) or ended in a Fail state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import islice, takewhile
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labeler.aws.codes import error_code
from labeler.events import UploadEvent, execution_arn
from labeler.models import ExecutionStatus, ImageStatus, ObjectRef, TaskError
from labeler_tools.ops.errors import OperatorError
from labeler_tools.ops.records import Records, UnreadableRecord, image_status

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

    from labeler_tools.ops.target import Target


#: Statuses from which RedriveExecution can resume an execution.
UNSUCCESSFUL = frozenset({ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED})
_MESSAGE_CHARS = 300


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ExecutionSummary(Frozen):
    arn: str
    name: str
    status: ExecutionStatus
    started: datetime
    stopped: datetime | None = None
    #: The uploaded object the execution is about (from its input event), when known.
    key: str | None = None

    @property
    def duration_s(self) -> float | None:
        return None if self.stopped is None else (self.stopped - self.started).total_seconds()


class Attempt(Frozen):
    """One try of a task: the first, or a retry."""

    started: datetime
    ended: datetime | None = None
    error: str | None = None
    #: The error message (a Lambda error's ``errorMessage``), shortened.
    message: str | None = None


class StateRun(Frozen):
    """One state entered, as the timeline shows it."""

    name: str
    type: str
    entered: datetime
    exited: datetime | None = None
    attempts: list[Attempt] = Field(default_factory=list)

    @property
    def retries(self) -> int:
        return max(len(self.attempts) - 1, 0)


class ExecutionDetail(Frozen):
    """``labeler executions show``: an execution, its object, its states, its outcome."""

    execution: ExecutionSummary
    object: ObjectRef | None = None
    states: list[StateRun] = Field(default_factory=list)
    #: Outcome status written by the store step (LABELED / REJECTED / FAILED), when it got that far.
    outcome: ImageStatus | None = None
    labels: list[str] = Field(default_factory=list)
    error: str | None = None
    message: str | None = None
    redrive_count: int = 0
    redrive_status: str | None = None
    redrive_status_reason: str | None = None
    console_url: str | None = None
    input: str = Field(default="", exclude=True)

    @property
    def stopped_in_task(self) -> bool:
        """True when the execution stopped inside a Task (failed, timed out or aborted there, no Catch
        took over): a redrive resumes at that task. Our ASL catches every task error and ends in the
        ``Failed`` Fail state; such an execution has no failed task to resume, so a redrive would just
        fail again at the Fail state."""
        last = self.states[-1] if self.states else None
        return last is not None and last.type == "Task" and last.exited is None


class ExecutionNotFound(OperatorError):
    """No execution by that ARN, name or key."""


def _short(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


def error_message(error: str | None, cause: str | None) -> str | None:
    """A one-line message for an error and its cause (the Lambda errorMessage when the cause is one)."""
    if not cause:
        return None
    return _short(TaskError(error=error or "", cause=cause).message)


def object_of(execution_input: str) -> ObjectRef | None:
    """The uploaded object an execution's input event names (None for any other input)."""
    try:
        return UploadEvent.model_validate_json(execution_input).object_ref()
    except ValidationError:
        return None


def describe(sfn: SFNClient, arn: str) -> dict[str, Any] | None:
    """DescribeExecution, or None when there is no such execution (any more)."""
    try:
        return dict(sfn.describe_execution(executionArn=arn))
    except ClientError as error:
        if error_code(error) == "ExecutionDoesNotExist":
            return None
        raise


def _summary(description: Mapping[str, Any]) -> ExecutionSummary:
    ref = object_of(description.get("input", "")) if "input" in description else None
    return ExecutionSummary(
        arn=description["executionArn"],
        name=description["name"],
        status=description["status"],
        started=description["startDate"],
        stopped=description.get("stopDate"),
        key=ref.key if ref else None,
    )


def list_executions(
    target: Target,
    *,
    status: ExecutionStatus | None = None,
    since: datetime | None = None,
    limit: int = 50,
    backfill_run: str | None = None,
) -> list[ExecutionSummary]:
    """Newest first (Step Functions' order), with the object key of each (one DescribeExecution each).
    ``backfill_run``: only the executions that run started (their names start with its name)."""
    parameters: dict[str, Any] = {"stateMachineArn": target.state_machine_arn}
    if status:
        parameters["statusFilter"] = status.value
    pages = target.sfn.get_paginator("list_executions").paginate(**parameters)
    newest_first = (
        execution
        for page in pages
        for execution in page["executions"]
        if backfill_run is None or execution["name"].startswith(f"{backfill_run}-")
    )
    recent = takewhile(lambda execution: since is None or execution["startDate"] >= since, newest_first)
    listed = list(islice(recent, limit))
    with ThreadPoolExecutor(max_workers=8) as pool:
        described = list(pool.map(lambda execution: describe(target.sfn, execution["executionArn"]), listed))
    return [_summary(full or brief) for brief, full in zip(listed, described, strict=True)]


def find_execution(target: Target, ident: str) -> str:
    """An execution ARN from an ARN, an execution name, or an object key (the execution of its record)."""
    if ident.startswith("arn:"):
        return ident
    if "/" in ident:
        record = Records(target.dynamodb, target.results_table).get(ident)
        if isinstance(record, UnreadableRecord):
            raise ExecutionNotFound(
                f"The record of {ident!r} is unreadable ({record.problem}): give the execution's ARN or name."
            )
        if record is None or not record.execution_id:
            raise ExecutionNotFound(f"No record for {ident!r}, so no execution to show.")
        return record.execution_id
    return execution_arn(target.state_machine_arn, ident)


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``...EventDetails`` member of a history event (each event type has its own)."""
    return next((value for key, value in event.items() if key.endswith("EventDetails")), {})


def _open_attempt(run: dict[str, Any]) -> bool:
    return bool(run["attempts"]) and "ended" not in run["attempts"][-1]


def timeline(events: Iterable[Mapping[str, Any]]) -> list[StateRun]:
    """States entered, in order, with their attempts, from a history (oldest event first)."""
    runs: list[dict[str, Any]] = []
    for event in events:
        kind, at, details = event["type"], event["timestamp"], _details(event)
        if kind.endswith("StateEntered"):
            name, state_type = details.get("name", "?"), kind.removesuffix("StateEntered")
            runs.append({"name": name, "type": state_type, "entered": at, "attempts": []})
        elif kind.endswith("StateExited") and runs:
            runs[-1]["exited"] = at
        elif not runs:
            continue
        elif kind in ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"):
            runs[-1]["attempts"].append({"started": at})
        elif kind.endswith(("Succeeded", "Failed", "TimedOut", "Aborted")) and _open_attempt(runs[-1]):
            # A task's own end, or the execution's (timed out, aborted) cutting the attempt short.
            attempt = runs[-1]["attempts"][-1]
            attempt["ended"] = at
            if not kind.endswith("Succeeded"):
                attempt["error"] = details.get("error") or kind
                attempt["message"] = error_message(details.get("error"), details.get("cause"))
    return [StateRun.model_validate(run) for run in runs]


def _outcome(output: str | None) -> tuple[ImageStatus | None, list[str]]:
    """The store step's outcome status and the labels, from a finished execution's output."""
    try:
        document = json.loads(output or "{}")
    except ValueError:
        return None, []
    if not isinstance(document, dict):
        return None, []
    labels = (document.get("labels") or {}).get("labels") or []
    names = [f"{label['name']} {label['confidence']:.0f}%" for label in labels if "name" in label]
    return image_status((document.get("outcome") or {}).get("status")), names


def history(sfn: SFNClient, arn: str) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    return [dict(event) for page in pages for event in page["events"]]


def explain(target: Target, arn: str) -> ExecutionDetail:
    """Everything ``labeler executions show`` prints; raises ExecutionNotFound."""
    description = describe(target.sfn, arn)
    if description is None:
        gone = " (`labeler local` keeps no executions across restarts)" if target.local else ""
        raise ExecutionNotFound(f"No execution {arn}{gone}.")
    outcome, labels = _outcome(description.get("output"))
    return ExecutionDetail(
        execution=_summary(description),
        object=object_of(description.get("input", "")),
        states=timeline(history(target.sfn, arn)),
        outcome=outcome,
        labels=labels,
        error=description.get("error"),
        message=error_message(description.get("error"), description.get("cause")),
        redrive_count=description.get("redriveCount", 0),
        redrive_status=description.get("redriveStatus"),
        redrive_status_reason=description.get("redriveStatusReason"),
        console_url=target.console_url(arn),
        input=description.get("input", ""),
    )
