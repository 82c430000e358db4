"""What the CLI's tables and panels are tested with: records, executions and items with long keys,
long file names and long reasons (the shapes that broke the tables at 80 columns)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from labeler.aws.label_index import IndexEntry, LabelCount
from labeler.models import ExecutionStatus, ImageStatus, Label, ObjectRef, ResultRecord
from labeler_tools.ops.delete import DeleteItem
from labeler_tools.ops.executions import Attempt, ExecutionDetail, ExecutionSummary, StateRun
from labeler_tools.ops.records import StoredRecord, read_item
from labeler_tools.ops.replay import Action, ReplayItem
from labeler_tools.ops.upload import Upload

START = datetime(2026, 11, 26, 19, 0, tzinfo=UTC)
#: A browser guest's key: its owner is a Cognito identity id.
LONG_KEY = "uploads/us-east-1:0f8fad5b-d9cb-469f-a165-70867728950e/3f2a9c1d0f8fad5bd9cb469fa1657086.jpg"
KEY = "uploads/cli/dbe9dcd48a40423095f0d4645a165cd1.jpg"
OWNER = "us-east-1:0f8fad5b-d9cb-469f-a165-70867728950e"
#: A label's name as long as Rekognition's longest run to (parents and categories are names too).
LONG_LABEL = "Animal Welfare Organization Adoption Event Volunteer"
LONG_NAME = "holiday photo from the beach at sunset, the second day, number 0001.jpg"
LONG_REASON = "The image is 50x50 px; each side must be at least 80 px, and this reason goes on for a while."
EXECUTION_NAME = "ea1339c6-b4f0-4f1d-bc1d-781180acd694"
ARN = f"arn:aws:states:eu-west-1:111122223333:execution:Pipeline-abc:{EXECUTION_NAME}"
CONSOLE_URL = (
    f"https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/{ARN}"
)


def record(**fields: Any) -> ResultRecord:
    """A results-table record; ``fields`` override the defaults of a REJECTED one."""
    defaults: dict[str, Any] = {
        "owner": "alice",
        "image_name": LONG_KEY,
        "bucket": "image-labeler-uploads-1a2b",
        "status": ImageStatus.REJECTED,
        "timestamp": "2026-11-26T19:00:05.000Z",
        "uploaded_at": "2026-11-26T19:00:00.000Z",
        "size": 2048,
        "etag": "abc",
        "sequencer": "0A",
        "execution_id": ARN,
        "original_name": LONG_NAME,
        "error_code": "TOO_SMALL",
        "reason": LONG_REASON,
    }
    return ResultRecord.model_validate({**defaults, **fields})


def unreadable() -> StoredRecord:
    """What a newer pipeline might write: a status this CLI does not know, an attribute it has never seen."""
    return read_item(
        {
            "Owner": {"S": "alice"},
            "ImageName": {"S": KEY},
            "Status": {"S": "QUARANTINED"},
            "Timestamp": {"S": "2026-11-26T19:00:00.000Z"},
            "ScanVerdict": {"S": "suspicious"},
        }
    )


def records() -> list[StoredRecord]:
    names = ["Tabby Cat", "Tiger Cat", "Egyptian Mau", "Lynx", "Ocelot"]
    labels = [
        Label(name=name, confidence=90 - 10 * n, parents=["Cat", "Animal"]) for n, name in enumerate(names)
    ]
    return [
        record(),
        record(image_name=KEY, status=ImageStatus.LABELED, labels=labels, error_code=None, reason=None),
        record(status=ImageStatus.FAILED, error_code="LabelServiceThrottled", original_name=None),
        unreadable(),
    ]


def executions() -> list[ExecutionSummary]:
    return [
        ExecutionSummary(
            arn=ARN, name=EXECUTION_NAME, status=status, started=START, stopped=START + took, key=key
        )
        for status, took, key in [
            (ExecutionStatus.SUCCEEDED, timedelta(seconds=3.2), KEY),
            (ExecutionStatus.PENDING_REDRIVE, timedelta(minutes=14, seconds=59), LONG_KEY),
            (ExecutionStatus.TIMED_OUT, timedelta(minutes=15), None),
        ]
    ]


def execution_detail() -> ExecutionDetail:
    def at(seconds: float) -> datetime:
        return START + timedelta(seconds=seconds)

    tries = [
        Attempt(
            started=at(1 + 5 * n),
            ended=at(1.1 + 5 * n),
            error="LabelServiceThrottled",
            message=f"injected fault: call {n} of 120 failing calls; {LONG_REASON}",
        )
        for n in range(6)
    ]

    def task(name: str, entered: float, attempts: list[Attempt]) -> StateRun:
        return StateRun(
            name=name, type="Task", entered=at(entered), exited=attempts[-1].ended, attempts=attempts
        )

    states = [
        task("Validate", 0, [Attempt(started=at(0), ended=at(1))]),
        task("Label", 1, tries),
        task("RecordFailure", 27, [Attempt(started=at(27), ended=at(28))]),
        StateRun(name="Failed", type="Fail", entered=at(28)),
    ]
    return ExecutionDetail(
        execution=executions()[0].model_copy(update={"status": ExecutionStatus.FAILED}),
        object=ObjectRef(bucket="image-labeler-uploads-1a2b", key=LONG_KEY, version_id="v1", size=2048),
        states=states,
        outcome=ImageStatus.FAILED,
        error="LabelServiceThrottled",
        message=f"injected fault: call 120 of 120 failing calls; {LONG_REASON}",
        console_url=CONSOLE_URL,
    )


def uploads() -> list[Upload]:
    folder = Path("shots/2026/a folder with a rather long name/and one more")
    return [
        Upload(
            path=folder / LONG_NAME, key=LONG_KEY, size=123456, content_type="image/jpeg", record=records()[0]
        ),
        Upload(path=Path("cat.jpg"), key=KEY, size=5, content_type="image/jpeg", record=records()[1]),
        Upload(path=Path("minutes.jpg"), key=KEY, size=5, content_type="image/jpeg", record=unreadable()),
        Upload(path=Path("later.jpg"), key=KEY, size=5, content_type="image/jpeg"),
        Upload(
            path=folder / "x.jpg",
            key=KEY,
            size=5,
            content_type="image/jpeg",
            error=f"An error occurred (AccessDenied) when calling the PutObject operation: {LONG_REASON}",
        ),
    ]


def replay_items(waited: bool) -> list[ReplayItem]:
    after: dict[str, Any] = {
        "execution_status": ExecutionStatus.SUCCEEDED,
        "status_after": ImageStatus.FAILED,
    }
    return [
        ReplayItem(
            key=LONG_KEY,
            original_name=LONG_NAME,
            action=Action.RESTART,
            reason="ended in the Fail state: new execution, same input",
            status_before=ImageStatus.FAILED,
            execution_arn=ARN,
            **(after if waited else {}),
        ),
        ReplayItem(
            key=KEY,
            action=Action.SKIP,
            reason="REJECTED (the image's fault); replay rejections with --status REJECTED",
            status_before=ImageStatus.REJECTED,
        ),
        ReplayItem(key=LONG_KEY, action=Action.SKIP, reason="could not be planned", error=LONG_REASON),
    ]


def deletions() -> list[DeleteItem]:
    return [
        DeleteItem(
            key=LONG_KEY,
            original_name=LONG_NAME,
            status_before=ImageStatus.LABELED,
            deleted=True,
            delete_marker="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
            cleaned_up=True,
            status_after=ImageStatus.DELETED,
        ),
        DeleteItem(
            key=KEY, original_name="cat.jpg", deleted=True, cleaned_up=False, status_after=ImageStatus.LABELED
        ),
        DeleteItem(key="nope.jpg", error="not an upload key (expected uploads/<owner>/<name>)"),
    ]


def label_counts() -> list[LabelCount]:
    return [
        LabelCount(key="cat", name="Cat", images=1204),
        LabelCount(key=LONG_LABEL.casefold(), name=LONG_LABEL, images=7),
        LabelCount(key="espresso", name="Espresso", images=1),
    ]


def labeled_images() -> list[IndexEntry]:
    return [
        IndexEntry(
            owner=OWNER,
            image_name=LONG_KEY,
            original_name=LONG_NAME,
            uploaded_at="2026-11-26T19:00:05.123Z",
            label="Cat",
            confidence=97.25,
        ),
        IndexEntry(
            owner="cli",
            image_name=KEY,
            original_name=None,
            uploaded_at="2026-11-25T08:30:00.000Z",
            label=LONG_LABEL,
            confidence=10.0,
        ),
    ]
