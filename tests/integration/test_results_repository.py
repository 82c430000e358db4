"""Conditional writes of the results table (real DynamoDB semantics in moto)."""

from __future__ import annotations

import pytest

from labeler.aws.results import ResultsRepository
from labeler.models import ImageStatus
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

    found = repository.statuses([(owner, labeled.image_name), *absent, (owner, processing.image_name)] * 2)

    assert found == {
        (owner, labeled.image_name): (ImageStatus.LABELED, labeled.timestamp),
        (owner, processing.image_name): (ImageStatus.PROCESSING, processing.timestamp),
    }
    assert sorted(sent) == [20, 100]  # 120 distinct keys, at most 100 per request
