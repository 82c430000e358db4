"""``labeler delete`` and the DELETED status: key checks, rendering, and the slim replay input."""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from labeler.events import UploadEvent, build_object_created_event
from labeler.models import ImageStatus
from labeler_tools.cli import app, render
from labeler_tools.ops.delete import DeleteItem, key_problem, summarize
from labeler_tools.ops.replay import replay_input
from tests.unit.cli_samples import record

LONG_KEY = "uploads/us-east-1:0f8fad5b-d9cb-469f-a165-70867728950e/3f2a9c1d-photo.jpg"


def _text(renderable: object, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("uploads/alice/cat.jpg", True),
        ("uploads/alice/", False),
        ("uploads//cat.jpg", False),
        ("other/alice/cat.jpg", False),
        ("cat.jpg", False),
    ],
)
def test_only_upload_keys_can_be_deleted(key: str, ok: bool) -> None:
    assert (key_problem(key) is None) is ok


def test_the_summary_has_one_line_per_key_at_80_columns_with_the_file_name() -> None:
    items = [
        DeleteItem(key=LONG_KEY, original_name="holiday.jpg", deleted=True),
        DeleteItem(key="uploads/bob/x.png", deleted=True, cleaned_up=True, status_after=ImageStatus.DELETED),
        DeleteItem(key="nope.jpg", error="not an upload key (expected uploads/<owner>/<name>)"),
    ]
    text = _text(render.deletions(items, summarize(items, waited=False)))
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0].startswith("Delete: 2 deleted, 1 not deleted")
    rows = [line.split() for line in lines[3:6]]
    assert rows[0][:2] == ["deleted", "holiday.jpg"] and LONG_KEY[:40] in rows[0][2]
    assert rows[1] == ["DELETED", "-", "uploads/bob/x.png"]
    assert rows[2] == ["error", "-", "nope.jpg"]
    assert "error: nope.jpg: not an upload key (expected uploads/<owner>/<name>)" in text
    assert all(len(line) <= 80 for line in lines)
    wide = _text(render.deletions(items, summarize(items, waited=False)), width=120)
    assert LONG_KEY in wide  # whole when there is room


def test_exit_2_when_a_key_was_not_deleted_or_not_cleaned_up_after_wait() -> None:
    ok = DeleteItem(key="uploads/a/b", deleted=True)
    assert summarize([ok], waited=False).ok
    assert not summarize([ok, DeleteItem(key="x", error="bad")], waited=False).ok
    assert not summarize([ok.model_copy(update={"cleaned_up": False})], waited=True).ok
    assert summarize([ok.model_copy(update={"cleaned_up": True})], waited=True).ok


def test_delete_without_keys_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["delete"])
    assert result.exit_code == 1
    assert "no keys" in result.stderr


def test_a_deleted_record_says_so() -> None:
    tombstone = record(
        image_name="uploads/alice/cat.jpg", status=ImageStatus.DELETED, timestamp="2026-12-02T12:00:00+00:00",
        expires_at=1_800_000_000, original_name=None, error_code=None, reason=None,
    )  # fmt: skip
    assert render.outcome(tombstone).plain.startswith("deleted")
    shown = _text(render.record(tombstone, None))
    assert "was deleted" in shown and "DELETED" in shown and "forgotten" in shown


def test_a_quota_rejection_shows_its_code_and_when_it_resets() -> None:
    rejected = record(
        error_code="QUOTA_EXCEEDED", reason="daily quota of 10 images used up; resets at 2026-12-03 00:00 UTC"
    )
    assert render.outcome(rejected).plain == (
        "QUOTA_EXCEEDED: daily quota of 10 images used up; resets at 2026-12-03 00:00 UTC"
    )


def _old_input() -> str:
    event = build_object_created_event(
        bucket="b", key="uploads/alice/a b.jpg", size=3, etag="e", sequencer="0A", version_id="v1"
    )
    event["detail"]["source-ip-address"] = "203.0.113.9"
    event["detail"]["requester"] = "123456789012"
    return json.dumps(event)


def test_replays_get_the_slim_input_even_from_an_old_full_event() -> None:
    slim = json.loads(replay_input(_old_input(), None))
    assert set(slim) == {"time", "object"}
    assert "203.0.113.9" not in json.dumps(slim) and "requester" not in json.dumps(slim)
    assert UploadEvent.model_validate(slim).object_ref().key == "uploads/alice/a b.jpg"
    assert replay_input(json.dumps(slim), None) == json.dumps(slim)  # already slim: unchanged


def test_a_rejected_replay_orders_after_the_rejected_outcome() -> None:
    rejected = record(image_name="uploads/alice/a b.jpg", sequencer="0A00")
    slim = json.loads(replay_input(_old_input(), rejected))
    assert slim["object"]["sequencer"] == "0A001"
