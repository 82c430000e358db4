"""Daily image quotas, charged by validate before any label call.

The bill of a public upload page must have a ceiling: every image that reaches the label backend
costs a DetectLabels call. An image version is charged once (a retry, a duplicate event or a replay
of the same version is not charged again); an image over a limit is REJECTED with QUOTA_EXCEEDED
and never labeled.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from labeler.errors import ImageRejected, RejectionCode
from labeler.models import BackfillContext, Limit
from labeler.ports import UsageLedger

#: The counter a backfill run's images are charged to is ``owner#backfill:<run>#<day>``.
BACKFILL_ACCOUNT_PREFIX = "backfill:"


def day_ends(day: date) -> datetime:
    """The end of a UTC day: when its counters reset."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


@dataclass(frozen=True)
class DailyQuota:
    ledger: UsageLedger
    per_owner: int
    overall: int
    exempt_owners: Set[str] = frozenset()
    #: Whose counter an image is charged to, when not its owner's: an operator's backfill run.
    account: str | None = None

    def for_run(self, backfill: BackfillContext | None) -> DailyQuota:
        """The quotas an execution is charged to. A backfill run is counted under its own name, with no
        per-owner limit (the owners' own counters are left for their uploads), and skips the site's
        daily limit too when the operator said so."""
        if backfill is None:
            return self
        return replace(
            self,
            per_owner=0,
            overall=self.overall if backfill.global_quota else 0,
            account=f"{BACKFILL_ACCOUNT_PREFIX}{backfill.run}",
        )

    def charge(self, image: str, owner: str, now: datetime | None = None) -> None:
        """Count ``image`` (a unique name of one object version) for ``owner``, once; raises
        ImageRejected(QUOTA_EXCEEDED) when a limit is reached."""
        if owner in self.exempt_owners or not (self.per_owner or self.overall):
            return
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        refused = self.ledger.charge(
            image, self.account or owner, moment.date(), self.per_owner, self.overall
        )
        if refused is None:
            return
        resets = day_ends(moment.date()).strftime("%Y-%m-%d %H:%M UTC")
        who, limit = (
            ("This uploader's", self.per_owner) if refused is Limit.OWNER else ("The site's", self.overall)
        )
        raise ImageRejected(
            RejectionCode.QUOTA_EXCEEDED,
            f"{who} daily quota of {limit} images is used up; it resets at {resets}.",
        )
