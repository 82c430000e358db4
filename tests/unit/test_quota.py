from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest

from labeler.errors import ImageRejected, RejectionCode
from labeler.models import BackfillContext, Limit
from labeler.quota import DailyQuota

NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
RESET = "2026-12-03 00:00 UTC."


@dataclass
class Ledger:
    refuse: Limit | None = None
    charges: list[tuple[str, str, date, int, int]] = field(default_factory=list)

    def charge(self, image: str, owner: str, day: date, owner_limit: int, global_limit: int) -> Limit | None:
        self.charges.append((image, owner, day, owner_limit, global_limit))
        return self.refuse


def test_a_charge_counts_the_owner_on_the_utc_day_with_both_limits() -> None:
    ledger = Ledger()
    DailyQuota(ledger, per_owner=10, overall=500).charge(
        "b/k#1", "alice", datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
    )
    assert ledger.charges == [("b/k#1", "alice", date(2026, 12, 2), 10, 500)]


@pytest.mark.parametrize(
    ("refused", "expected"),
    [
        (
            Limit.OWNER,
            "This uploader's daily quota of 10 images is used up; it resets at 2026-12-03 00:00 UTC.",
        ),
        (Limit.GLOBAL, "The site's daily quota of 500 images is used up; it resets at 2026-12-03 00:00 UTC."),
    ],
)
def test_a_refused_charge_rejects_with_the_limit_and_when_it_resets(refused: Limit, expected: str) -> None:
    with pytest.raises(ImageRejected) as rejection:
        DailyQuota(Ledger(refuse=refused), per_owner=10, overall=500).charge("b/k#1", "alice", NOON)
    assert (rejection.value.code, rejection.value.reason) == (RejectionCode.QUOTA_EXCEEDED, expected)


def test_exempt_owners_and_no_limits_are_never_charged() -> None:
    ledger = Ledger(refuse=Limit.OWNER)
    DailyQuota(ledger, per_owner=1, overall=1, exempt_owners=frozenset({"cli"})).charge("b/k#1", "cli", NOON)
    DailyQuota(ledger, per_owner=0, overall=0).charge("b/k#1", "alice", NOON)
    assert ledger.charges == []
    counted = Ledger()
    DailyQuota(counted, per_owner=0, overall=3).charge(
        "b/k#1", "alice", NOON
    )  # one limit is enough to charge
    assert len(counted.charges) == 1


PLANNED = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)


def test_an_upload_is_charged_to_its_owner_as_before() -> None:
    quota = DailyQuota(Ledger(), per_owner=10, overall=500)
    assert quota.for_run(None) is quota


def test_a_backfill_run_is_charged_under_its_own_name_to_the_site_limit_alone() -> None:
    ledger = Ledger()
    quota = DailyQuota(ledger, per_owner=10, overall=500, exempt_owners=frozenset({"cli"}))

    quota.for_run(BackfillContext(run="library-1", planned_at=PLANNED)).charge("b/k#1", "alice", NOON)

    # The owner's own counter is left for its uploads: a backfill of 30 old photos must not use up
    # the 10 it may upload today.
    assert ledger.charges == [("b/k#1", "backfill:library-1", date(2026, 12, 2), 0, 500)]


def test_a_backfill_run_told_to_skip_the_site_limit_is_not_charged_and_exempt_owners_stay_exempt() -> None:
    ledger = Ledger(refuse=Limit.GLOBAL)
    quota = DailyQuota(ledger, per_owner=10, overall=500, exempt_owners=frozenset({"cli"}))
    unlimited = BackfillContext(run="library-1", planned_at=PLANNED, global_quota=False)

    quota.for_run(unlimited).charge("b/k#1", "alice", NOON)
    with pytest.raises(ImageRejected):
        quota.for_run(BackfillContext(run="r", planned_at=PLANNED)).charge("b/k#2", "alice", NOON)
    quota.for_run(BackfillContext(run="r", planned_at=PLANNED)).charge("b/k#3", "cli", NOON)

    assert [charge[0] for charge in ledger.charges] == ["b/k#2"]
