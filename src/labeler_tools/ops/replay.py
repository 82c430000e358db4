"""``labeler replay``: run failed items through the pipeline again, once per failure, however often it runs.

For each selected item (a record from the table, a key, or an execution ARN):

1. The record now (consistent read). LABELED: skip. REJECTED: skip unless replaying REJECTED. PROCESSING
   (or any status this CLI does not know): left alone while its execution runs (``--wait`` follows
   it), replayed when that execution stopped without writing an outcome (timed out, aborted).
2. The latest attempt. Replays are named ``replay-<sha256 of the attempt they replay>``: starting from
   the record's execution, the chain of replays is followed to its end. A replay that is still running
   or has succeeded means there is nothing to do; so does running the same replay twice, because Step
   Functions refuses a second execution of the same name.
3. How. RedriveExecution (with a client token derived from the attempt and its redrive count) when Step
   Functions says the attempt is REDRIVABLE *and* it stopped inside a task (timed out, aborted, an
   uncaught error): the redrive resumes at that task. Our ASL catches every task error and ends in the
   ``Failed`` Fail state, which has nothing to resume; those (and everything on moto, which has no
   redrive) get a new execution with the original input under the derived name.
4. The original input is the attempt's input, slimmed to what the upload rule passes (an input recorded
   before the rule slimmed it is slimmed the same way: no source IP, no requester). When the execution
   is gone (``labeler local`` keeps no executions across restarts; AWS keeps them 90 days), the S3
   event is rebuilt from the record and a HeadObject of the key, and slimmed: the recorded version if
   it still exists, else the current version when its ETag is the recorded one (a restarted local
   stack re-uploads its objects under new version ids).

A REJECTED outcome is final for its object version (the store step never overwrites it with the same
sequencer), so a REJECTED replay carries the record's sequencer plus one digit: it orders after the
rejected outcome and before any newer upload of the key.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from labeler.aws.codes import error_code, error_summary
from labeler.aws.executions import StepFunctionsExecutions
from labeler.events import build_object_created_event, execution_arn, execution_input
from labeler.models import ExecutionStatus, ImageStatus, ResultRecord
from labeler.pipeline import released_claim
from labeler_tools.ops.executions import UNSUCCESSFUL, describe, explain, object_of
from labeler_tools.ops.records import (
    RecordQuery,
    Records,
    StoredRecord,
    UnreadableRecord,
    status_of,
)
from labeler_tools.ops.statuses import Replayable

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef

    from labeler_tools.ops.target import Target

#: How many replays of one failure the planner follows (each is a new generation); far more than happens.
MAX_GENERATIONS = 50


class Action(StrEnum):
    RESTART = "restart"
    REDRIVE = "redrive"
    #: Its replay is already running: nothing to start; ``--wait`` follows it.
    RUNNING = "running"
    SKIP = "skip"


class Selection(BaseModel):
    """Which items to replay: explicit keys / execution ARNs, or records matching the filters."""

    model_config = ConfigDict(frozen=True)

    status: Replayable = Replayable.FAILED
    since: datetime | None = None
    until: datetime | None = None
    error: str | None = None
    owner: str | None = None
    items: tuple[str, ...] = ()

    def has_error(self, record: StoredRecord) -> bool:
        """``--error``: the record's code or error name, in any case (DynamoDB cannot compare so). An
        unreadable record is kept: its plan says why it is not replayed."""
        if self.error is None or isinstance(record, UnreadableRecord):
            return True
        return self.error.lower() in {(record.error_code or "").lower(), (record.error or "").lower()}


class ReplayItem(BaseModel):
    """One item through plan, start and wait."""

    model_config = ConfigDict(frozen=True)

    key: str
    action: Action
    reason: str
    #: The uploader's file name, from the record, when there is one.
    original_name: str | None = None
    status_before: ImageStatus | None = None
    #: The execution that is redriven, started, or already running.
    execution_arn: str | None = None
    error: str | None = None
    execution_status: ExecutionStatus | None = None
    status_after: ImageStatus | None = None
    input: str = Field(default="", exclude=True)
    client_token: str = Field(default="", exclude=True)
    #: The execution whose PROCESSING claim the record still holds though it stopped: released (the
    #: record turns FAILED) before the new execution starts, which the claim would otherwise refuse.
    stopped_claim: str | None = Field(default=None, exclude=True)

    @property
    def started(self) -> bool:
        return self.action in (Action.RESTART, Action.REDRIVE) and self.error is None

    @property
    def followed(self) -> bool:
        return self.started or self.action is Action.RUNNING


class Summary(BaseModel):
    replayed: int
    redriven: int
    running: int
    skipped: int
    errors: int
    #: None unless the replay waited for its executions.
    succeeded: int | None = None
    still_failing: int | None = None

    @property
    def ok(self) -> bool:
        return self.errors == 0 and not self.still_failing


def summarize(items: Sequence[ReplayItem], waited: bool) -> Summary:
    def count(predicate: Callable[[ReplayItem], bool]) -> int:
        return sum(1 for item in items if predicate(item))

    succeeded = count(lambda item: item.followed and item.status_after is ImageStatus.LABELED)
    followed = count(lambda item: item.followed)
    return Summary(
        replayed=count(lambda item: item.action is Action.RESTART and item.started),
        redriven=count(lambda item: item.action is Action.REDRIVE and item.started),
        running=count(lambda item: item.action is Action.RUNNING),
        skipped=count(lambda item: item.action is Action.SKIP),
        errors=count(lambda item: item.error is not None),
        succeeded=succeeded if waited else None,
        still_failing=followed - succeeded if waited else None,
    )


def replay_name(previous: str) -> str:
    """The execution that replays ``previous`` (an execution ARN, or an object's URI when it has none)."""
    return f"replay-{hashlib.sha256(previous.encode()).hexdigest()[:32]}"


def parse_items(text: str) -> list[str]:
    """Keys or execution ARNs, one per line; or the JSON of ``labeler list --json`` (objects with a key)."""
    if text.lstrip().startswith("["):
        entries = json.loads(text)
        return [entry["key"] if isinstance(entry, dict) else str(entry) for entry in entries]
    return [line.strip() for line in text.splitlines() if line.strip()]


def replay_input(event_json: str, record: ResultRecord | None) -> str:
    """The slim execution input (an old input with the whole S3 event is slimmed, like the rule does).

    A REJECTED record's replay carries its sequencer plus one digit (see the module docstring).
    """
    event = execution_input(json.loads(event_json))
    if record is not None and record.status is ImageStatus.REJECTED:
        event["object"]["sequencer"] = record.sequencer + "1"
    return json.dumps(event)


class Pacer:
    """At most ``rate`` calls per second, evenly spaced."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1 / rate if rate else 0.0
        self.next = time.monotonic()

    def wait(self) -> None:
        delay = self.next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self.next = max(self.next, time.monotonic()) + self.interval


@dataclass
class Replay:
    target: Target
    selection: Selection
    records: Records = field(init=False)

    def __post_init__(self) -> None:
        self.records = Records(self.target.dynamodb, self.target.results_table)
        self.results = self.target.results()

    # -- plan --------------------------------------------------------------------------------------

    def candidates(self) -> list[str]:
        """Keys or execution ARNs, in the order they will be replayed (oldest failure first)."""
        if self.selection.items:
            return list(dict.fromkeys(self.selection.items))
        query = RecordQuery(
            status=ImageStatus(self.selection.status),
            owner=self.selection.owner,
            since=self.selection.since,
            until=self.selection.until,
        )
        found = [record for record in self.records.find(query) if self.selection.has_error(record)]
        return [record.image_name for record in reversed(found)]

    def plan(self, candidates: Iterable[str]) -> list[ReplayItem]:
        """What would happen to each candidate, in order. Read-only (``--dry-run`` stops here)."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(self._plan_or_error, candidates))

    def _plan_or_error(self, ident: str) -> ReplayItem:
        try:
            return self.plan_item(ident)
        except ClientError as error:
            return ReplayItem(
                key=ident, action=Action.SKIP, reason="could not be planned", error=error_summary(error)
            )

    def plan_item(self, ident: str) -> ReplayItem:
        description: dict[str, Any] | None = None
        if ident.startswith("arn:"):
            description = describe(self.target.sfn, ident)
            ref = object_of(description["input"]) if description else None
            if ref is None:
                reason = "no such execution" if description is None else "its input is not an S3 upload event"
                return ReplayItem(key=ident, action=Action.SKIP, reason=reason)
            key, root = ref.key, ident
        else:
            key, root = ident, None
        stored = self.records.get(key)
        if isinstance(stored, UnreadableRecord):
            reason = f"its record is unreadable (status {stored.status}): {stored.problem}"
            return self._skip(key, stored, reason)
        record = stored
        skip = self._skip_reason(record)
        if skip:
            return self._skip(key, record, skip)
        # A PROCESSING record whose execution still runs comes out as RUNNING (followed, not restarted);
        # one whose execution stopped without an outcome (timed out, aborted) is replayed.
        return self._plan_from(key, record, root or (record.execution_id if record else None), description)

    def _skip_reason(self, record: ResultRecord | None) -> str | None:
        """None when the record (or its absence: never recorded) does not rule a replay out."""
        if record is None:
            return None
        if record.status is ImageStatus.LABELED:
            return "already LABELED"
        if record.status is ImageStatus.REJECTED and self.selection.status is not Replayable.REJECTED:
            return "REJECTED (the image's fault); replay rejections with --status REJECTED"
        return None

    def _skip(self, key: str, record: StoredRecord | None, reason: str) -> ReplayItem:
        return self._item(key, record, action=Action.SKIP, reason=reason)

    @staticmethod
    def _item(key: str, record: StoredRecord | None, **fields: Any) -> ReplayItem:
        """An item for ``key``, with what its record says (the file name, the status before)."""
        return ReplayItem(
            key=key,
            original_name=record.original_name if record else None,
            status_before=status_of(record),
            **fields,
        )

    def _plan_from(
        self, key: str, record: ResultRecord | None, root: str | None, description: dict[str, Any] | None
    ) -> ReplayItem:
        """Follow the replays of ``root`` to the latest attempt and decide what to do with it."""
        previous = root or self._object_uri(key, record)
        latest = description if root else None
        if root and latest is None:
            latest = describe(self.target.sfn, root)
        for _ in range(MAX_GENERATIONS):
            following = describe(
                self.target.sfn, execution_arn(self.target.state_machine_arn, replay_name(previous))
            )
            if following is None:
                break
            previous, latest = following["executionArn"], following
        if latest is None:
            return self._restart_rebuilt(key, record, previous)
        status, arn = ExecutionStatus(latest["status"]), latest["executionArn"]
        which = "its execution" if arn == root else "a replay"
        if not status.finished:
            return self._item(
                key, record, action=Action.RUNNING, reason=f"{which} is {status}", execution_arn=arn
            )
        if status not in UNSUCCESSFUL:
            return self._skip(key, record, f"{which} {status}")
        if latest.get("redriveStatus") == "REDRIVABLE":
            detail = explain(self.target, arn)
            if detail.stopped_in_task:
                state = detail.states[-1].name
                token = hashlib.sha256(f"{arn}#{detail.redrive_count}".encode()).hexdigest()[:32]
                return self._item(
                    key,
                    record,
                    action=Action.REDRIVE,
                    reason=f"{status} in task {state}: redrive resumes there",
                    execution_arn=arn,
                    client_token=f"replay-{token}",
                )
        ended = "ended in the Fail state" if latest.get("redriveStatus") == "REDRIVABLE" else status
        return self._item(
            key,
            record,
            action=Action.RESTART,
            reason=f"{ended}: new execution, same input",
            execution_arn=execution_arn(self.target.state_machine_arn, replay_name(arn)),
            input=self._replay_input(latest["input"], record),
            stopped_claim=_claimant(record),
        )

    def _object_uri(self, key: str, record: ResultRecord | None) -> str:
        bucket = record.bucket if record and record.bucket else self.target.upload_bucket
        return f"s3://{bucket}/{key}"

    def _replay_input(self, event_json: str, record: ResultRecord | None) -> str:
        return replay_input(event_json, record)

    def _restart_rebuilt(self, key: str, record: ResultRecord | None, previous: str) -> ReplayItem:
        """The execution is gone: rebuild its S3 event from the record and the object as it is now."""
        bucket = record.bucket if record and record.bucket else self.target.upload_bucket
        head, why = self._head(bucket, key, record)
        if head is None:
            return self._skip(key, record, why)
        name = replay_name(previous)
        event = build_object_created_event(
            bucket=bucket,
            key=key,
            size=int(head["ContentLength"]),
            etag=head["ETag"],
            sequencer=record.sequencer if record else "0",
            version_id=head.get("VersionId"),
            request_id=name.removeprefix("replay-")[:16].upper(),
            region=self.target.region,
            account=self.target.account,
            time=datetime.fromisoformat(record.uploaded_at) if record and record.uploaded_at else None,
        )
        # The same event on every run, so that StartExecution of the same name is idempotent.
        event["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
        return self._item(
            key,
            record,
            action=Action.RESTART,
            reason=why,
            execution_arn=execution_arn(self.target.state_machine_arn, name),
            input=self._replay_input(json.dumps(event), record),
            stopped_claim=_claimant(record),
        )

    def _head(
        self, bucket: str, key: str, record: ResultRecord | None
    ) -> tuple[HeadObjectOutputTypeDef | None, str]:
        """HeadObject of the recorded version, else of the current one if it has the recorded ETag."""
        s3 = self.target.s3
        if record and record.version_id:
            try:
                head = s3.head_object(Bucket=bucket, Key=key, VersionId=record.version_id)
            except ClientError:
                pass  # that version is gone (or the stack was restarted): look at the current one
            else:
                return head, "execution gone: event rebuilt from the record"
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None, "object gone"
            raise
        if record and record.etag and head["ETag"].strip('"') != record.etag:
            return None, "object replaced since its record (its new upload is processed on its own)"
        if record is None:
            return head, "never processed: new execution for the object as it is now"
        return head, "execution gone: event rebuilt from the record (current object version)"

    # -- act -----------------------------------------------------------------------------------------

    def start(
        self,
        plan: Sequence[ReplayItem],
        max_rate: float | None = None,
        on_item: Callable[[ReplayItem], None] | None = None,
    ) -> list[ReplayItem]:
        """Redrive or start every planned item, at most ``max_rate`` per second."""
        pacer, done = Pacer(max_rate), []
        for item in plan:
            if item.action in (Action.RESTART, Action.REDRIVE):
                pacer.wait()
                item = self._start_one(item)
            done.append(item)
            if on_item is not None:
                on_item(item)
        return done

    def _start_one(self, item: ReplayItem) -> ReplayItem:
        assert item.execution_arn is not None
        sfn = self.target.sfn
        refused = self._release(item.key, item.stopped_claim) if item.stopped_claim else None
        if refused:
            return item.model_copy(update={"action": Action.SKIP, "reason": refused})
        try:
            if item.action is Action.REDRIVE:
                sfn.redrive_execution(executionArn=item.execution_arn, clientToken=item.client_token)
            else:
                sfn.start_execution(
                    stateMachineArn=self.target.state_machine_arn,
                    name=item.execution_arn.rsplit(":", 1)[1],
                    input=item.input,
                )
        except ClientError as error:
            if error_code(error) == "ExecutionAlreadyExists":
                return item.model_copy(
                    update={"action": Action.RUNNING, "reason": "started meanwhile by another replay"}
                )
            return item.model_copy(update={"error": error_summary(error)})
        return item

    def _release(self, key: str, claimant: str) -> str | None:
        """Turn a stopped execution's PROCESSING claim FAILED; why not, when it cannot be."""
        if StepFunctionsExecutions(self.target.sfn).running(claimant):
            return f"its record is claimed by {claimant.rsplit(':', 1)[-1]}, which is running"
        claim = self.records.get(key)
        if claim is None or _claimant(claim) != claimant:
            if isinstance(claim, ResultRecord) and claim.status is ImageStatus.FAILED:
                return None
            return "its record changed since the plan: replay again"
        assert isinstance(claim, ResultRecord)
        why = "its execution stopped without an outcome (aborted, timed out, or lost in a restart)"
        if self.results.put_replacing(released_claim(claim, why, datetime.now(UTC)), claim):
            return None
        return "its record changed since the plan: replay again"

    # -- wait ----------------------------------------------------------------------------------------

    def wait(
        self,
        items: Sequence[ReplayItem],
        timeout_s: float,
        poll_s: float,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[ReplayItem]:
        """Until every followed execution has finished (or the timeout); then read each item's record."""
        pending = {item.execution_arn for item in items if item.followed and item.execution_arn}
        statuses: dict[str, ExecutionStatus] = {}
        deadline = time.monotonic() + timeout_s
        while True:
            for arn in sorted(pending - statuses.keys()):
                description = describe(self.target.sfn, arn)
                status = ExecutionStatus(description["status"]) if description else None
                if status is not None and status.finished:
                    statuses[arn] = status
            if on_progress is not None:
                on_progress(len(statuses), len(pending))
            if len(statuses) == len(pending) or time.monotonic() > deadline:
                break
            time.sleep(poll_s)
        return [self._outcome(item, statuses) for item in items]

    def _outcome(self, item: ReplayItem, statuses: dict[str, ExecutionStatus]) -> ReplayItem:
        if not item.followed or item.execution_arn is None:
            return item
        return item.model_copy(
            update={
                "execution_status": statuses.get(item.execution_arn, ExecutionStatus.RUNNING),
                "status_after": status_of(self.records.get(item.key)),
            }
        )


def _claimant(record: StoredRecord | None) -> str | None:
    """The execution a PROCESSING record is claimed by, if it is one."""
    if isinstance(record, ResultRecord) and record.status is ImageStatus.PROCESSING:
        return record.execution_id
    return None
