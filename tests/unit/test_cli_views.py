"""How records, timelines and replays are read and shown, without any AWS."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from rich.console import Console

from labeler.aws.results import record_to_item
from labeler_tools.cli import render
from labeler_tools.ops.executions import timeline
from labeler_tools.ops.records import UnreadableRecord, is_final, read_item
from labeler_tools.ops.replay import Pacer
from tests.unit import cli_samples as samples

START = datetime(2026, 11, 26, 19, 0, tzinfo=UTC)


def shown(renderable: Any) -> str:
    console = Console(width=200, record=True)
    console.print(renderable)
    return console.export_text()


def test_a_record_with_a_status_this_cli_does_not_know_is_still_listed_as_unreadable() -> None:
    written = record_to_item(samples.record(image_name="uploads/alice/a.jpg"))
    newer = {**written, "Status": "QUARANTINED", "Stage": "SCANNING", "SomethingNew": 1}
    item = {name: TypeSerializer().serialize(value) for name, value in newer.items()}

    record = read_item(item)

    assert isinstance(record, UnreadableRecord)
    assert (record.image_name, record.status, is_final(record)) == (
        "uploads/alice/a.jpg",
        "QUARANTINED",
        False,
    )
    assert record.fields["stage"] == "SCANNING" and record.fields["something_new"] == 1
    assert record.problem == (
        "status: Input should be 'PROCESSING', 'LABELED', 'REJECTED', 'FAILED' or 'DELETED'; "
        "stage: Input should be 'LABELING'"
    )
    listed = shown(render.records([record]))
    assert "QUARANTINED" in listed and "unreadable: status: Input should be" in listed


def test_the_timeline_counts_retries_and_keeps_each_error() -> None:
    def at(seconds: float, kind: str, **details: Any) -> dict[str, Any]:
        return {"timestamp": START + timedelta(seconds=seconds), "type": kind, **details}

    failure = {"error": "LabelServiceThrottled", "cause": '{"errorMessage": "slow down"}'}
    runs = timeline(
        [
            at(0, "ExecutionStarted"),
            at(0.1, "TaskStateEntered", stateEnteredEventDetails={"name": "Label"}),
            at(0.2, "TaskScheduled"),
            at(0.3, "TaskFailed", taskFailedEventDetails=failure),
            at(2.3, "TaskScheduled"),
            at(2.5, "TaskSucceeded"),
            at(2.6, "TaskStateExited", stateExitedEventDetails={"name": "Label"}),
            at(2.7, "SucceedStateEntered", stateEnteredEventDetails={"name": "Done"}),
        ]
    )

    assert [(run.name, run.type, run.retries) for run in runs] == [
        ("Label", "Task", 1),
        ("Done", "Succeed", 0),
    ]
    assert [(attempt.error, attempt.message) for attempt in runs[0].attempts] == [
        ("LabelServiceThrottled", "slow down"),
        (None, None),
    ]


def test_max_rate_spaces_the_starts() -> None:
    pacer, started = Pacer(rate=50), time.monotonic()

    for _ in range(6):
        pacer.wait()

    assert time.monotonic() - started >= 5 / 50
