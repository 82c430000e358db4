"""Backfill: whether a backfill run labels an object that already exists, decided from its one record.

A backfill lists objects and sends each through the same pipeline as an upload. Whether an object
needs it is decided per object, from its record alone (one consistent read, never the whole table),
by the run's mode. An object is "the same" as its record when it has the record's content (ETag):
re-uploading identical bytes changes nothing a label depends on.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from labeler.events import normalize_sequencer
from labeler.models import Frozen, ImageStatus, ResultRecord
from labeler.pipeline import CLAIM_LIFETIME


class BackfillMode(StrEnum):
    #: No LABELED or REJECTED outcome of the object as it is now.
    MISSING = "missing"
    #: Its outcome is FAILED (or a claim whose execution stopped without one).
    FAILED = "failed"
    #: LABELED with other label settings (backend, model, thresholds) than the pipeline's now.
    STALE = "stale"
    #: Every object, whatever its record says.
    ALL = "all"


#: Appended to a sequencer to order a backfill's records after that sequencer and before every later
#: real one: S3 sequencers are hexadecimal of one width, and this sorts after every hex digit.
BACKFILL_SEQUENCER_MARK = "~"

#: Which modes label an object of the same content, by its record's status (claims still live aside).
_LABELS: dict[ImageStatus, frozenset[BackfillMode]] = {
    ImageStatus.LABELED: frozenset({BackfillMode.ALL}),  # and STALE, when the settings differ
    ImageStatus.REJECTED: frozenset({BackfillMode.ALL}),
    ImageStatus.FAILED: frozenset({BackfillMode.MISSING, BackfillMode.FAILED, BackfillMode.ALL}),
    # A claim whose execution stopped without an outcome: a failure that left no record.
    ImageStatus.PROCESSING: frozenset({BackfillMode.MISSING, BackfillMode.FAILED, BackfillMode.ALL}),
}
#: Modes that label an object with no outcome of its content (no record, another content, deleted).
_LABELS_UNRECORDED = frozenset({BackfillMode.MISSING, BackfillMode.ALL})


class BackfillDecision(Frozen):
    label: bool
    #: Why, in words for the operator (and the dry run's counts).
    reason: str
    #: The sequencer the object's records carry (S3 tells a backfill none): the record's own for the
    #: same content, else one that orders after the record and before any later upload of the key.
    sequencer: str


def decide(
    mode: BackfillMode, stored: ResultRecord | None, etag: str, label_settings: str, now: datetime
) -> BackfillDecision:
    """Whether a ``mode`` backfill labels the object of content ``etag`` whose record is ``stored``.

    ``label_settings`` is what the pipeline labels with now (:attr:`ResultRecord.label_settings`).
    A claim still live (an execution is labeling this content) is always left alone.
    """
    same = stored is not None and stored.status is not ImageStatus.DELETED and stored.etag == etag
    if stored is None or not same:
        after = normalize_sequencer(stored.sequencer if stored else "") + BACKFILL_SEQUENCER_MARK
        if mode in _LABELS_UNRECORDED:
            why = "never labeled" if stored is None else _unrecorded(stored)
            return BackfillDecision(label=True, reason=why, sequencer=after)
        return BackfillDecision(label=False, reason=f"no outcome to {mode.value} yet", sequencer=after)
    status = stored.status
    if status is ImageStatus.PROCESSING and datetime.fromisoformat(stored.timestamp) >= now - CLAIM_LIFETIME:
        return _keep(stored, "being labeled now")
    if status is ImageStatus.LABELED and mode is BackfillMode.STALE:
        if stored.label_settings == label_settings:
            return _keep(stored, "labeled with the current settings")
        return BackfillDecision(label=True, reason="labeled with other settings", sequencer=stored.sequencer)
    if mode in _LABELS[status]:
        why = "abandoned while labeling" if status is ImageStatus.PROCESSING else status.value
        return BackfillDecision(label=True, reason=why, sequencer=stored.sequencer)
    return _keep(stored, "abandoned while labeling" if status is ImageStatus.PROCESSING else status.value)


def _unrecorded(stored: ResultRecord) -> str:
    return (
        "deleted, then uploaded again" if stored.status is ImageStatus.DELETED else "changed since its record"
    )


def _keep(stored: ResultRecord, why: str) -> BackfillDecision:
    return BackfillDecision(label=False, reason=why, sequencer=stored.sequencer)
