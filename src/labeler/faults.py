"""Fault injection, for tests and for rehearsing outages on the local stack (never set on AWS).

Each fault wraps a real dependency and is configured through ``labeler.settings`` (environment
``LABELER_FAULT_*`` / ``LABELER_FAIL_FIRST_LABEL_CALLS``), so the handlers run unchanged:

- ``FailFirstCalls``: the first N label calls fail (an outage that heals).
- ``RandomFailures``: each label call fails with a probability (throttling at a rate).
- ``SlowLabels``: each label call first sleeps (drives the function past its timeout).
- ``ThrottledWrites``: each results-table write fails with a probability (DynamoDB throttling).
- ``FirstAttemptFails``: the first attempt at each distinct label call or write fails, its retry
  goes through: every retry path exercised, deterministically, whatever the concurrency.

All of them raise the same typed transient errors as the real dependencies, so the state machine's
Retry policies are what absorbs them.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from labeler.errors import LabelServiceThrottled, StorageThrottled
from labeler.models import LabelResult, ObjectRef, ResultRecord
from labeler.ports import LabelBackend, ResultWriter
from labeler.settings import Settings


@dataclass
class FailFirstCalls:
    """The first ``failures`` calls (in this process) raise LabelServiceThrottled, then calls go through."""

    inner: LabelBackend
    failures: int
    calls: int = field(default=0, init=False)

    @property
    def name(self) -> str:
        return self.inner.name

    def warm_up(self) -> None:
        self.inner.warm_up()

    def detect_labels(self, image: ObjectRef) -> LabelResult:
        self.calls += 1
        if self.calls <= self.failures:
            raise LabelServiceThrottled(f"injected fault: call {self.calls} of {self.failures} failing calls")
        return self.inner.detect_labels(image)


@dataclass
class RandomFailures:
    """Each call raises LabelServiceThrottled with probability ``rate``."""

    inner: LabelBackend
    rate: float
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @property
    def name(self) -> str:
        return self.inner.name

    def warm_up(self) -> None:
        self.inner.warm_up()

    def detect_labels(self, image: ObjectRef) -> LabelResult:
        if self.rng.random() < self.rate:
            raise LabelServiceThrottled(f"injected fault: throttled (rate {self.rate:.0%})")
        return self.inner.detect_labels(image)


@dataclass
class SlowLabels:
    """Each call sleeps ``delay_s`` first."""

    inner: LabelBackend
    delay_s: float

    @property
    def name(self) -> str:
        return self.inner.name

    def warm_up(self) -> None:
        self.inner.warm_up()

    def detect_labels(self, image: ObjectRef) -> LabelResult:
        time.sleep(self.delay_s)
        return self.inner.detect_labels(image)


@dataclass
class ThrottledWrites:
    """Each write raises StorageThrottled with probability ``rate`` (before reaching the table)."""

    inner: ResultWriter
    rate: float
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def put_if_newer(self, record: ResultRecord) -> bool:
        if self.rng.random() < self.rate:
            raise StorageThrottled(f"injected fault: DynamoDB throttled (rate {self.rate:.0%})")
        return self.inner.put_if_newer(record)


@dataclass
class FirstAttemptFails:
    """The first label call for each object version, and the first write of each record, fail."""

    labels: LabelBackend | None = None
    writer: ResultWriter | None = None
    _seen: set[tuple[str, ...]] = field(default_factory=set, repr=False)

    def _first_time(self, attempt: tuple[str, ...]) -> bool:
        first = attempt not in self._seen
        self._seen.add(attempt)
        return first

    @property
    def name(self) -> str:
        assert self.labels is not None
        return self.labels.name

    def warm_up(self) -> None:
        assert self.labels is not None
        self.labels.warm_up()

    def detect_labels(self, image: ObjectRef) -> LabelResult:
        assert self.labels is not None
        if self._first_time(("label", image.bucket, image.key, image.sequencer)):
            raise LabelServiceThrottled("injected fault: first attempt of this label call")
        return self.labels.detect_labels(image)

    def put_if_newer(self, record: ResultRecord) -> bool:
        assert self.writer is not None
        item = ("write", record.image_name, record.sequencer, record.status.value, str(record.stage))
        if self._first_time(item):
            raise StorageThrottled("injected fault: first attempt of this write")
        return self.writer.put_if_newer(record)


def with_label_faults(backend: LabelBackend, settings: Settings) -> LabelBackend:
    if settings.fail_first_label_calls:
        backend = FailFirstCalls(backend, settings.fail_first_label_calls)
    if settings.fault_label_failure_rate:
        backend = RandomFailures(backend, settings.fault_label_failure_rate)
    if settings.fault_label_delay_s:
        backend = SlowLabels(backend, settings.fault_label_delay_s)
    return backend
