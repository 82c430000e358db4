"""Points in time as operators type them (``--since 2h``, ``--until 2026-11-26T18:00``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>s|m|min|h|d|w)$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """``30m``, ``2h``, ``1d``, ``1w`` ago, or an ISO-8601 date / date-time (UTC unless it says otherwise).

    Raises ValueError with a message fit for a usage error.
    """
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        delta = timedelta(**{_UNITS[relative["unit"].lower()]: float(relative["amount"])})
        return (now or datetime.now(UTC)) - delta
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use 30m, 2h, 1d, 1w (ago) or ISO-8601 like 2026-11-26T18:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
