"""Which objects a backfill labels, by mode and by what the object's one record says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from labeler.backfill import BACKFILL_SEQUENCER_MARK, BackfillDecision, BackfillMode, Labeling, decide
from labeler.events import SEQUENCER_WIDTH, normalize_sequencer
from labeler.models import ImageStatus, ResultRecord
from labeler.pipeline import CLAIM_LIFETIME, iso_timestamp

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SETTINGS = "onnx efficientnet@abc max_labels=10 min_confidence=10"
SEQUENCER = normalize_sequencer("0055AED6DCD90281E5")
MISSING, FAILED, STALE, ALL = BackfillMode.MISSING, BackfillMode.FAILED, BackfillMode.STALE, BackfillMode.ALL


def record(
    status: ImageStatus, etag: str = "e1", age: timedelta = timedelta(hours=1), **fields: object
) -> ResultRecord:
    return ResultRecord(
        owner="alice",
        image_name="uploads/alice/cat.jpg",
        bucket="b",
        status=status,
        timestamp=iso_timestamp(NOW - age),
        uploaded_at=iso_timestamp(NOW - age),
        size=10,
        etag=etag,
        sequencer=SEQUENCER,
        execution_id="arn:aws:states:us-east-1:1:execution:pipeline:first",
        **fields,
    )


def decided(mode: BackfillMode, stored: ResultRecord | None, **now: object) -> BackfillDecision:
    return decide(
        mode, stored, Labeling.model_validate({"etag": "e1", "label_settings": SETTINGS, **now}), NOW
    )


LABELED = record(ImageStatus.LABELED, label_settings=SETTINGS)
LABELED_OTHERWISE = record(ImageStatus.LABELED, label_settings="rekognition max_labels=10 min_confidence=70")
LABELED_BEFORE_SETTINGS_WERE_KEPT = record(ImageStatus.LABELED)
REJECTED = record(ImageStatus.REJECTED, error_code="UNSUPPORTED_FORMAT")
OVER_QUOTA = record(ImageStatus.REJECTED, error_code="QUOTA_EXCEEDED")
FAILED_RECORD = record(ImageStatus.FAILED)
LIVE_CLAIM = record(ImageStatus.PROCESSING, age=CLAIM_LIFETIME)
ABANDONED_CLAIM = record(ImageStatus.PROCESSING, age=CLAIM_LIFETIME + timedelta(milliseconds=1))
OTHER_CONTENT = record(ImageStatus.LABELED, etag="e0", label_settings=SETTINGS)
TOMBSTONE = record(ImageStatus.DELETED, etag="")
SAME_CONTENT_TOMBSTONE = record(ImageStatus.DELETED)


@pytest.mark.parametrize(
    ("stored", "labeled_by"),
    [
        (None, {MISSING, ALL}),
        (LABELED, {ALL}),
        (LABELED_OTHERWISE, {STALE, ALL}),
        (LABELED_BEFORE_SETTINGS_WERE_KEPT, {STALE, ALL}),  # settings unknown: stale
        (REJECTED, {ALL}),
        (OVER_QUOTA, {MISSING, FAILED, ALL}),  # a daily limit's refusal is no outcome of the image
        (FAILED_RECORD, {MISSING, FAILED, ALL}),
        (LIVE_CLAIM, set()),  # an execution is labeling it: never a second time
        (ABANDONED_CLAIM, {MISSING, FAILED, ALL}),
        (OTHER_CONTENT, {MISSING, ALL}),  # the object changed: its record is of another content
        (TOMBSTONE, {MISSING, ALL}),
        (SAME_CONTENT_TOMBSTONE, {MISSING, ALL}),  # deleted, then the same bytes uploaded again
    ],
    ids=[
        "no record",
        "labeled",
        "labeled with other settings",
        "labeled, settings unknown",
        "rejected",
        "refused by a daily limit",
        "failed",
        "claimed now",
        "claim abandoned",
        "other content",
        "deleted",
        "deleted, same bytes again",
    ],
)
def test_each_mode_labels_exactly_its_objects(
    stored: ResultRecord | None, labeled_by: set[BackfillMode]
) -> None:
    assert {mode for mode in BackfillMode if decided(mode, stored).label} == labeled_by


def test_the_same_content_keeps_its_records_sequencer() -> None:
    for stored in (LABELED, FAILED_RECORD, ABANDONED_CLAIM, LIVE_CLAIM, REJECTED, OVER_QUOTA):
        for mode in BackfillMode:
            assert decided(mode, stored).sequencer == SEQUENCER, (stored.status, mode)


def test_otherwise_the_sequencer_orders_after_the_record_and_before_any_later_upload() -> None:
    later = normalize_sequencer("0055AED6DCD90281E6")
    for stored in (OTHER_CONTENT, TOMBSTONE):
        sequencer = decided(MISSING, stored).sequencer
        assert sequencer == SEQUENCER + BACKFILL_SEQUENCER_MARK
        assert stored.sequencer < sequencer < later
    never = decided(MISSING, None).sequencer
    assert never == "0" * SEQUENCER_WIDTH + BACKFILL_SEQUENCER_MARK
    assert never < normalize_sequencer("1") and never > normalize_sequencer("")
    assert all(digit < BACKFILL_SEQUENCER_MARK for digit in "0123456789ABCDEF")


@pytest.mark.parametrize(
    ("mode", "stored", "reason"),
    [
        (MISSING, None, "never labeled"),
        (FAILED, None, "no outcome to failed yet"),
        (STALE, None, "no outcome to stale yet"),
        (MISSING, OTHER_CONTENT, "changed since its record"),
        (MISSING, TOMBSTONE, "deleted, then uploaded again"),
        (MISSING, LABELED, "LABELED"),
        (FAILED, REJECTED, "REJECTED"),
        (FAILED, OVER_QUOTA, "refused by a daily limit"),
        (STALE, OVER_QUOTA, "refused by a daily limit"),
        (MISSING, FAILED_RECORD, "FAILED"),
        (ALL, LIVE_CLAIM, "being labeled now"),
        (FAILED, ABANDONED_CLAIM, "abandoned while labeling"),
        (STALE, ABANDONED_CLAIM, "abandoned while labeling"),
        (STALE, LABELED, "labeled with the current settings"),
        (STALE, LABELED_OTHERWISE, "labeled with other settings"),
    ],
)
def test_every_decision_says_why(mode: BackfillMode, stored: ResultRecord | None, reason: str) -> None:
    assert decided(mode, stored).reason == reason


def test_stale_compares_the_model_version_only_when_it_is_known() -> None:
    by_v1 = record(ImageStatus.LABELED, label_settings=SETTINGS, label_model_version="m@1")
    assert decided(STALE, by_v1, model_version="m@2").reason == "labeled by another model"
    assert decided(STALE, by_v1, model_version="m@2").label
    assert not decided(STALE, by_v1, model_version="m@1").label
    assert not decided(STALE, by_v1).label  # Rekognition's version is told only with its answers
    assert decided(MISSING, by_v1, model_version="m@2").reason == "LABELED"  # only stale compares it


def test_a_young_claim_whose_execution_stopped_is_abandoned() -> None:
    young = record(ImageStatus.PROCESSING, age=timedelta(seconds=5))
    assert not decided(MISSING, young).label
    stopped = decided(MISSING, young, claimant_stopped=True)
    assert (stopped.label, stopped.reason, stopped.sequencer) == (True, "abandoned while labeling", SEQUENCER)
    assert not decided(STALE, young, claimant_stopped=True).label


def test_label_settings_name_the_backend_and_its_effective_thresholds() -> None:
    from labeler.settings import Settings

    assert Settings().label_settings == "rekognition max_labels=10 min_confidence=50"
    assert Settings(label_backend="onnx").label_settings == "onnx max_labels=10 min_confidence=10"
    tuned = Settings(label_backend="onnx", max_labels=5, min_confidence=12.5)
    assert tuned.label_settings == "onnx max_labels=5 min_confidence=12.5"


def test_a_functions_settings_are_read_from_its_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from labeler.settings import settings_from_environment

    monkeypatch.setenv("LABELER_MAX_LABELS", "7")  # this process's own: not the function's
    settings = settings_from_environment(
        {
            "LABELER_LABEL_BACKEND": "onnx",
            "LABELER_MIN_CONFIDENCE": "25",
            "LABELER_QUOTA_EXEMPT_OWNERS": '["cli", "ops"]',
            "POWERTOOLS_SERVICE_NAME": "image-labeler",
        }
    )
    assert settings.label_settings == "onnx max_labels=10 min_confidence=25"
    assert settings.quota_exempt_owners == frozenset({"cli", "ops"})
