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
import threading
import time
from dataclasses import dataclass, field

from labeler.errors import LabelServiceThrottled, StorageThrottled
from labeler.models import LabelResult, ObjectRef, ResultRecord
from labeler.ports import LabelBackend, ResultWriter
from labeler.settings import Settings


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0

    def next(self) -> int:
        with self._lock:
            self.calls += 1
            return self.calls


@dataclass
class FailFirstCalls:
    """The first ``failures`` calls raise LabelServiceThrottled, then calls go through. Thread-safe."""

    inner: LabelBackend
    failures: int
    _counter: _Counter = field(default_factory=_Counter, repr=False)

    @property
    def name(self) -> str:
        return self.inner.name

    def warm_up(self) -> None:
        self.inner.warm_up()

    @property
    def calls(self) -> int:
        return self._counter.calls

    def detect_labels(self, image: ObjectRef) -> LabelResult:
        call = self._counter.next()
        if call <= self.failures:
            raise LabelServiceThrottled(f"injected fault: call {call} of {self.failures} failing calls")
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


class _SeenOnce:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[tuple[str, ...]] = set()

    def first_time(self, item: tuple[str, ...]) -> bool:
        with self._lock:
            if item in self._seen:
                return False
            self._seen.add(item)
            return True


@dataclass
class FirstAttemptFails:
    """The first label call for each object version, and the first write of each record, fail."""

    labels: LabelBackend | None = None
    writer: ResultWriter | None = None
    _seen: _SeenOnce = field(default_factory=_SeenOnce, repr=False)

    @property
    def name(self) -> str:
        assert self.labels is not None
        return self.labels.name

    def warm_up(self) -> None:
        assert self.labels is not None
        self.labels.warm_up()

    def detect_labels(self, image: ObjectRef) -> LabelResult:
        assert self.labels is not None
        if self._seen.first_time(("label", image.bucket, image.key, image.sequencer)):
            raise LabelServiceThrottled("injected fault: first attempt of this label call")
        return self.labels.detect_labels(image)

    def put_if_newer(self, record: ResultRecord) -> bool:
        assert self.writer is not None
        item = ("write", record.image_name, record.sequencer, record.status.value, str(record.stage))
        if self._seen.first_time(item):
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
