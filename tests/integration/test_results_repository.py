"""Conditional writes of the results table (real DynamoDB semantics in moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from labeler.aws.results import ResultsRepository
from labeler.models import ImageStatus, ResultRecord
from labeler.pipeline import CLAIM_LIFETIME, iso_timestamp
from labeler_tools.deployment import LocalResources
from labeler_tools.local.server import LocalAws
from tests.integration.pipeline_helpers import competing_record

pytestmark = pytest.mark.integration


@pytest.fixture
def repository(local_aws: LocalAws, stack: LocalResources) -> ResultsRepository:
    return ResultsRepository(local_aws.session().client("dynamodb"), stack.results_table)


@pytest.mark.parametrize(
    ("first", "second", "second_wins"),
    [
        ((ImageStatus.FAILED, "0A"), (ImageStatus.LABELED, "0A"), True),  # replay of a failure
        ((ImageStatus.FAILED, "0A"), (ImageStatus.FAILED, "0A"), True),  # later failure detail
        ((ImageStatus.LABELED, "0A"), (ImageStatus.FAILED, "0A"), False),  # duplicate that failed
        ((ImageStatus.LABELED, "0A"), (ImageStatus.LABELED, "0A"), False),  # duplicate: idempotent
        ((ImageStatus.REJECTED, "0A"), (ImageStatus.LABELED, "0A"), False),  # rejection is final
        ((ImageStatus.LABELED, "0B"), (ImageStatus.LABELED, "0A"), False),  # older version, late
        ((ImageStatus.REJECTED, "0A"), (ImageStatus.LABELED, "0B"), True),  # newer version
        ((ImageStatus.REJECTED, "0A"), (ImageStatus.PROCESSING, "0A"), False),  # a duplicate event
        ((ImageStatus.LABELED, "0A"), (ImageStatus.PROCESSING, "0A"), False),
        ((ImageStatus.DELETED, "0B"), (ImageStatus.LABELED, "0A"), False),  # a late store after a delete
        ((ImageStatus.LABELED, "0A"), (ImageStatus.DELETED, "0B"), True),
    ],
)
def test_which_write_wins(
    repository: ResultsRepository,
    owner: str,
    first: tuple[ImageStatus, str],
    second: tuple[ImageStatus, str],
    second_wins: bool,
) -> None:
    assert repository.put_if_newer(competing_record(owner, *first, execution="first"))
    assert repository.put_if_newer(competing_record(owner, *second, execution="second")) is second_wins
    stored = repository.get(owner, f"uploads/{owner}/a.jpg")
    assert stored is not None
    assert stored.execution_id == ("second" if second_wins else "first")


def at(seconds: float) -> str:
    """A record Timestamp ``seconds`` after the competing records' own."""
    return iso_timestamp(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds))


LIFETIME = CLAIM_LIFETIME.total_seconds()
PROCESSING, LABELED, FAILED = ImageStatus.PROCESSING, ImageStatus.LABELED, ImageStatus.FAILED


@pytest.mark.parametrize(
    ("first", "second", "second_wins"),
    [
        # (status, sequencer, execution, seconds after the first, etag, backfill run)
        ((PROCESSING, "0A", "first", 0, "e", None), (PROCESSING, "0A", "first", 1, "e", None), True),  # retry
        ((PROCESSING, "0A", "first", 0, "e", None), (LABELED, "0A", "first", 2, "e", None), True),  # outcome
        (
            (PROCESSING, "0A", "first", 0, "e", None),
            (ImageStatus.REJECTED, "0A", "first", 1, "e", None),
            True,
        ),
        (
            (PROCESSING, "0B", "first", 0, "e", None),
            (LABELED, "0A", "second", 1, "e", None),
            False,
        ),  # newer runs
        ((PROCESSING, "0A", "first", 0, "e", None), (PROCESSING, "0A", "second", 1, "e", None), False),  # dup
        ((PROCESSING, "0A", "first", 0, "e", None), (LABELED, "0A", "second", 1, "e", None), False),
        ((PROCESSING, "0A", "first", 0, "e", None), (FAILED, "0A", "second", 1, "e", None), False),
        # The claim lives as long as the pipeline's timeout, to the millisecond.
        ((PROCESSING, "0A", "first", 0, "e", None), (PROCESSING, "0A", "second", LIFETIME, "e", None), False),
        (
            (PROCESSING, "0A", "first", 0, "e", None),
            (PROCESSING, "0A", "second", LIFETIME + 0.001, "e", None),
            True,
        ),
        # A newer version wins over a claim, unless it has the same content while the claim lives.
        ((PROCESSING, "0A", "first", 0, "e", None), (PROCESSING, "0B", "second", 1, "f", None), True),
        ((PROCESSING, "0A", "first", 0, "e", None), (PROCESSING, "0B", "second", 1, "e", None), False),
        (
            (PROCESSING, "0A", "first", 0, "e", None),
            (PROCESSING, "0B", "second", LIFETIME + 1, "e", None),
            True,
        ),
        (
            (PROCESSING, "0A", "first", 0, "e", None),
            (LABELED, "0B", "first", 1, "e", None),
            True,
        ),  # own claim
        # The upload event of what a backfill labeled is no newer version; a changed object is.
        ((LABELED, "0A", "first", 0, "e", "run"), (PROCESSING, "0B", "second", 1, "e", None), False),
        (
            (ImageStatus.REJECTED, "0A", "first", 0, "e", "run"),
            (LABELED, "0B", "second", 1, "e", None),
            False,
        ),
        ((LABELED, "0A", "first", 0, "e", "run"), (PROCESSING, "0B", "second", 1, "f", None), True),
        ((FAILED, "0A", "first", 0, "e", "run"), (PROCESSING, "0B", "second", 1, "e", None), True),
        (
            (LABELED, "0A", "first", 0, "e", None),
            (PROCESSING, "0B", "second", 1, "e", None),
            True,
        ),  # re-upload
        ((ImageStatus.DELETED, "0A", "", 0, "", None), (PROCESSING, "0B", "second", 1, "", None), True),
    ],
)
def test_a_processing_record_claims_its_version_for_its_execution(
    repository: ResultsRepository,
    owner: str,
    first: tuple[ImageStatus, str, str, float, str, str | None],
    second: tuple[ImageStatus, str, str, float, str, str | None],
    second_wins: bool,
) -> None:
    def record(
        status: ImageStatus, sequencer: str, execution: str, seconds: float, etag: str, run: str | None
    ) -> ResultRecord:
        return competing_record(owner, status, sequencer, execution).model_copy(
            update={"timestamp": at(seconds), "etag": etag, "backfill_run": run}
        )

    stored = record(*first)
    assert repository.put_if_newer(stored)
    assert repository.put_if_newer(record(*second)) is second_wins
    assert repository.get(owner, stored.image_name) == (record(*second) if second_wins else stored)


def test_a_replacement_is_written_only_over_the_record_it_was_decided_on(
    repository: ResultsRepository, owner: str
) -> None:
    labeled = competing_record(owner, LABELED, "0A", execution="upload")
    claim = competing_record(owner, PROCESSING, "0A", execution="backfill").model_copy(
        update={"timestamp": at(5), "backfill_run": "run"}
    )
    assert repository.put_replacing(labeled, None)
    assert not repository.put_replacing(labeled.model_copy(update={"execution_id": "again"}), None)
    for changed in ({"execution_id": "other"}, {"timestamp": at(1)}, {"status": FAILED}):
        assert not repository.put_replacing(claim, labeled.model_copy(update=changed)), changed
    assert repository.get(owner, labeled.image_name) == labeled
    assert repository.put_replacing(claim, labeled)  # a final outcome, replaced as decided
    assert repository.get(owner, labeled.image_name) == claim


def test_statuses_reads_many_keys_in_batches_and_leaves_absent_ones_out(
    repository: ResultsRepository, owner: str
) -> None:
    labeled = competing_record(owner, ImageStatus.LABELED, "0A", execution="one")
    processing = competing_record(owner, ImageStatus.PROCESSING, "0A", execution="two").model_copy(
        update={"image_name": f"uploads/{owner}/b.jpg", "timestamp": "2026-01-01T00:00:01.000Z"}
    )
    assert repository.put_if_newer(labeled) and repository.put_if_newer(processing)
    absent = [(owner, f"uploads/{owner}/absent-{index}.jpg") for index in range(118)]
    sent: list[int] = []
    repository.client.meta.events.register(
        "before-parameter-build.dynamodb.BatchGetItem",
        lambda params, **_: sent.append(len(next(iter(params["RequestItems"].values()))["Keys"])),
        unique_id=f"count-{owner}",
    )

    keys = [(owner, labeled.image_name), *absent, (owner, processing.image_name)] * 2

    found = repository.statuses(keys)

    assert found == {
        (owner, labeled.image_name): (ImageStatus.LABELED, labeled.timestamp),
        (owner, processing.image_name): (ImageStatus.PROCESSING, processing.timestamp),
    }
    assert sorted(sent) == [20, 100]  # 120 distinct keys, at most 100 per request
    assert repository.records(keys) == {
        (owner, labeled.image_name): labeled,
        (owner, processing.image_name): processing,
    }  # whole records, as written
