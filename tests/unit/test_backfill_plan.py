"""The plan step of a backfill item: what it reads, what it claims, and the pipeline input it hands
on; and how an item whose pipeline execution failed is settled. Ports are in-memory fakes here; the
AWS adapters are tested against moto in tests/integration/test_backfill_adapters.py."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from labeler.backfill import (
    BackfillMode,
    BackfillRun,
    ListedObject,
    PlannedItem,
    plan_item,
    settle,
)
from labeler.errors import BackfillItemFailed
from labeler.events import SEQUENCER_WIDTH, UploadEvent, execution_arn, normalize_sequencer
from labeler.models import ImageStatus, ObjectHead, ObjectRef, ResultRecord, Stage
from labeler.pipeline import iso_timestamp

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
UPLOADED = datetime(2019, 5, 1, 8, 30, tzinfo=UTC)
PIPELINE = "arn:aws:states:us-east-1:123456789012:stateMachine:labeler-pipeline"
SETTINGS = "onnx max_labels=10 min_confidence=10"
KEY = "uploads/alice/holiday 2019/café.jpg"
RUN = BackfillRun(name="library-1", bucket="photos", mode=BackfillMode.MISSING)
ITEM = ListedObject(key=KEY)
SEQUENCER = normalize_sequencer("0055AED6DCD90281E5")


@dataclass
class Heads:
    objects: dict[str, ObjectHead] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def head(self, bucket: str, key: str) -> ObjectHead | None:
        self.asked.append(key)
        return self.objects.get(f"{bucket}/{key}")


@dataclass
class Records:
    """A results table of one record per key, replaced only over what was read (as put_replacing)."""

    items: dict[tuple[str, str], ResultRecord] = field(default_factory=dict)
    #: Set to a record to have it written by someone else between the plan's read and its claim.
    changed_meanwhile: ResultRecord | None = None

    def get(self, owner: str, image_name: str) -> ResultRecord | None:
        assert isinstance(owner, str) and owner, "a record's partition key is its owner"
        return self.items.get((owner, image_name))

    def put_replacing(self, record: ResultRecord, previous: ResultRecord | None) -> bool:
        key = (record.owner, record.image_name)
        if self.changed_meanwhile is not None:
            self.items[key] = self.changed_meanwhile
        if self.items.get(key) != previous:
            return False
        self.items[key] = record
        return True


@dataclass
class Executions:
    running_by_arn: dict[str, bool] = field(default_factory=dict)

    def running(self, execution_arn: str) -> bool | None:
        return self.running_by_arn.get(execution_arn)


def head(etag: str = "e1") -> ObjectHead:
    return ObjectHead(bucket="photos", key=KEY, version_id="v7", etag=etag, size=2048, last_modified=UPLOADED)


def stored(status: ImageStatus, age: timedelta = timedelta(hours=1), **fields: object) -> ResultRecord:
    values: dict[str, object] = {
        "owner": "alice",
        "image_name": KEY,
        "bucket": "photos",
        "status": status,
        "timestamp": iso_timestamp(NOW - age),
        "uploaded_at": iso_timestamp(UPLOADED),
        "size": 2048,
        "etag": "e1",
        "sequencer": SEQUENCER,
        "execution_id": f"{PIPELINE}:upload-1".replace(":stateMachine:", ":execution:"),
        **fields,
    }
    return ResultRecord.model_validate(values)


def plan(
    records: Records,
    executions: Executions | None = None,
    run: BackfillRun = RUN,
    item: ListedObject = ITEM,
    heads: Heads | None = None,
) -> PlannedItem:
    return plan_item(
        item,
        run,
        PIPELINE,
        heads=heads or Heads({f"photos/{KEY}": head()}),
        records=records,
        executions=executions or Executions(),
        label_settings=SETTINGS,
        now=NOW,
    )


def test_an_object_never_labeled_is_claimed_for_the_execution_the_item_starts() -> None:
    records = Records()

    planned = plan(records)

    assert planned.label and planned.reason == "never labeled"
    assert planned.name is not None
    assert re.fullmatch(r"library-1-[0-9a-f]{16}", planned.name)
    claim = records.items[("alice", KEY)]
    assert claim == ResultRecord(
        owner="alice",
        image_name=KEY,
        bucket="photos",
        status=ImageStatus.PROCESSING,
        stage=Stage.LABELING,
        timestamp="2026-12-03T12:00:00.000Z",
        uploaded_at="2019-05-01T08:30:00.000Z",
        size=2048,
        etag="e1",
        version_id="v7",
        sequencer="0" * SEQUENCER_WIDTH + "~",
        execution_id=execution_arn(PIPELINE, planned.name),
        backfill_run="library-1",
    )


def test_the_pipeline_input_is_an_uploads_with_the_runs_context() -> None:
    planned = plan(Records())
    assert planned.input is not None

    assert json.loads(json.dumps(planned.input)) == planned.input  # JSON as it is: the state's input
    assert planned.input["time"] == "2019-05-01T08:30:00Z"
    event = UploadEvent.model_validate(planned.input)
    ref = event.object_ref()
    assert (ref.bucket, ref.key, ref.version_id, ref.etag, ref.size) == ("photos", KEY, "v7", "e1", 2048)
    assert ref.sequencer == "0" * SEQUENCER_WIDTH + "~"  # survives the pipeline's normalising
    assert ref.request_id == planned.name  # the three tasks' correlation id
    assert event.time == UPLOADED  # the record's UploadedAt stays the upload's
    assert event.backfill is not None
    assert (event.backfill.run, event.backfill.planned_at, event.backfill.global_quota) == (
        "library-1",
        NOW,
        True,
    )
    assert "%20" in planned.input["object"]["key"] or "+" in planned.input["object"]["key"]  # S3's encoding


def test_the_operators_choice_on_the_site_limit_reaches_the_pipeline() -> None:
    run = RUN.model_copy(update={"global_quota": False})
    planned = plan(Records(), run=run).input
    assert planned is not None and planned["backfill"]["global_quota"] is False


def test_a_labeled_object_is_left_alone_and_nothing_is_written() -> None:
    labeled = stored(ImageStatus.LABELED, label_settings=SETTINGS)
    records = Records({("alice", KEY): labeled})

    planned = plan(records)

    assert (planned.label, planned.reason, planned.name, planned.input) == (False, "LABELED", None, None)
    assert records.items[("alice", KEY)] is labeled


def test_a_relabel_claims_over_the_outcome_with_its_sequencer() -> None:
    labeled = stored(ImageStatus.LABELED, label_settings="rekognition max_labels=10 min_confidence=70")
    records = Records({("alice", KEY): labeled})

    planned = plan(records, run=RUN.model_copy(update={"mode": BackfillMode.STALE}))

    assert planned.label and planned.reason == "labeled with other settings"
    claim = records.items[("alice", KEY)]
    assert (claim.status, claim.sequencer) == (ImageStatus.PROCESSING, SEQUENCER)


def test_keys_outside_uploads_and_objects_deleted_since_the_listing_are_skipped() -> None:
    heads = Heads()
    outside = plan(Records(), item=ListedObject(key="exports/a.jpg"), heads=heads)
    assert (outside.label, outside.reason) == (False, "not an upload (uploads/<owner>/<name>)")
    assert heads.asked == []  # decided from the key alone

    gone = plan(Records(), heads=heads)
    assert (gone.label, gone.reason) == (False, "deleted since it was listed")


@pytest.mark.parametrize(
    ("running", "age", "labeled"),
    [
        (True, timedelta(seconds=5), False),  # being labeled now
        (True, timedelta(minutes=14), False),
        (False, timedelta(seconds=5), True),  # its execution stopped: abandoned
        (None, timedelta(0), True),  # never started: its plan failed, or was retried, or its run stopped
    ],
)
def test_a_claim_is_left_to_its_execution_while_it_runs(
    running: bool | None, age: timedelta, labeled: bool
) -> None:
    claim = stored(ImageStatus.PROCESSING, age=age)
    executions = Executions({} if running is None else {claim.execution_id: running})

    planned = plan(Records({("alice", KEY): claim}), executions)

    assert planned.label is labeled
    assert planned.reason == ("abandoned while labeling" if labeled else "being labeled now")


def test_a_record_written_between_the_read_and_the_claim_wins() -> None:
    upload = stored(ImageStatus.PROCESSING, age=timedelta(0), execution_id="arn:upload")
    records = Records(changed_meanwhile=upload)

    planned = plan(records)

    assert (planned.label, planned.reason) == (False, "its record changed while planning")
    assert records.items[("alice", KEY)] is upload


def test_execution_names_are_one_per_run_key_and_record_read() -> None:
    failed = stored(ImageStatus.FAILED)
    first = plan(Records({("alice", KEY): failed})).name
    assert plan(Records({("alice", KEY): failed})).name == first  # a retried plan names the same
    again = stored(ImageStatus.FAILED, age=timedelta(minutes=5))
    assert plan(Records({("alice", KEY): again})).name != first
    other_run = RUN.model_copy(update={"name": "library-2"})
    assert str(plan(Records({("alice", KEY): failed}), run=other_run).name).startswith("library-2-")
    longest = RUN.model_copy(update={"name": "r" * 40})
    assert len(str(plan(Records(), run=longest).name)) <= 80  # Step Functions' limit


def test_run_names_are_what_step_functions_accepts_in_an_execution_name() -> None:
    for bad in ("", "r" * 41, "my run", "run/1", "ünï"):
        with pytest.raises(ValidationError, match="name"):
            BackfillRun(name=bad, bucket="photos")


@pytest.mark.parametrize("status", [ImageStatus.REJECTED, ImageStatus.LABELED, ImageStatus.DELETED])
def test_an_item_whose_image_has_its_outcome_is_settled(status: ImageStatus) -> None:
    assert settle(RUN, KEY, Records({("alice", KEY): stored(status)})) is status


def test_an_item_without_an_outcome_fails_with_the_records_reason() -> None:
    failed = stored(ImageStatus.FAILED, error_code="LabelServiceThrottled", reason="Rekognition answered 503")
    with pytest.raises(BackfillItemFailed, match="FAILED LabelServiceThrottled: Rekognition answered 503"):
        settle(RUN, KEY, Records({("alice", KEY): failed}))
    with pytest.raises(BackfillItemFailed, match="no record"):
        settle(RUN, KEY, Records())
    with pytest.raises(BackfillItemFailed, match="no record"):
        settle(RUN, "exports/a.jpg", Records())  # not an upload: no record to read
    bare = stored(ImageStatus.FAILED)
    with pytest.raises(BackfillItemFailed) as failed_bare:
        settle(RUN, KEY, Records({("alice", KEY): bare}))
    assert str(failed_bare.value) == f"{KEY}: FAILED"
    coded = stored(ImageStatus.FAILED, error_code="ExecutionStopped")
    with pytest.raises(BackfillItemFailed) as failed_coded:
        settle(RUN, KEY, Records({("alice", KEY): coded}))
    assert str(failed_coded.value) == f"{KEY}: FAILED ExecutionStopped"
    with pytest.raises(BackfillItemFailed, match="PROCESSING"):
        settle(RUN, KEY, Records({("alice", KEY): stored(ImageStatus.PROCESSING)}))


def test_an_item_a_daily_limit_refused_fails_so_that_the_run_stops_and_a_rerun_labels_it() -> None:
    refused = stored(ImageStatus.REJECTED, error_code="QUOTA_EXCEEDED", reason="The daily limit is used up.")
    with pytest.raises(BackfillItemFailed) as failed:
        settle(RUN, KEY, Records({("alice", KEY): refused}))
    assert str(failed.value) == f"{KEY}: REJECTED QUOTA_EXCEEDED: The daily limit is used up."
    unsupported = stored(ImageStatus.REJECTED, error_code="UNSUPPORTED_FORMAT")
    assert settle(RUN, KEY, Records({("alice", KEY): unsupported})) is ImageStatus.REJECTED
    rerun = plan(Records({("alice", KEY): refused}))
    assert (rerun.label, rerun.reason) == (True, "refused by a daily limit")


LIBRARY_KEY = "2019/holiday/café.jpg"
LIBRARY_RUN = BackfillRun(name="library-1", bucket="photos", prefix="2019/", library=True)


def test_a_library_photo_of_any_key_is_owned_by_its_bucket_through_the_pipeline() -> None:
    records = Records()
    heads = Heads({f"photos/{LIBRARY_KEY}": head().model_copy(update={"key": LIBRARY_KEY})})

    planned = plan(records, run=LIBRARY_RUN, item=ListedObject(key=LIBRARY_KEY), heads=heads)

    assert planned.label and planned.reason == "never labeled"
    assert records.items[("library:photos", LIBRARY_KEY)].owner == "library:photos"
    assert planned.input is not None
    event = UploadEvent.model_validate(planned.input)
    assert event.backfill is not None and event.backfill.library
    ref = event.object_ref()
    assert (ref.library, ref.owner, ref.key) == (True, "library:photos", LIBRARY_KEY)
    # Every step after validate reads the object from ImageInfo's copy of the ref: it keeps the owner.
    assert ObjectRef.model_validate(ref.model_dump(mode="json")).owner == "library:photos"


def test_an_uploads_key_in_a_library_is_still_the_librarys() -> None:
    assert LIBRARY_RUN.owner("uploads/alice/a.jpg") == "library:photos"
    assert RUN.owner("uploads/alice/a.jpg") == "alice"
    assert RUN.owner("2019/a.jpg") is None
    upload = UploadEvent.model_validate(plan(Records()).input)
    assert upload.backfill is not None and not upload.backfill.library
    assert upload.object_ref().owner == "alice"


def test_a_library_item_settles_from_the_librarys_record() -> None:
    failed = stored(ImageStatus.FAILED, owner="library:photos", image_name=LIBRARY_KEY, error_code="X")
    with pytest.raises(BackfillItemFailed, match="FAILED X"):
        settle(LIBRARY_RUN, LIBRARY_KEY, Records({("library:photos", LIBRARY_KEY): failed}))
    labeled = stored(ImageStatus.LABELED, owner="library:photos", image_name=LIBRARY_KEY)
    assert settle(LIBRARY_RUN, LIBRARY_KEY, Records({("library:photos", LIBRARY_KEY): labeled})) is (
        ImageStatus.LABELED
    )
