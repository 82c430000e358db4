"""Fault injection for the label backend: make the first N calls fail, then heal.

Used by tests and by the local stack to rehearse outages (``labeler replay`` recovers them).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from labeler.errors import LabelServiceThrottled
from labeler.labels.base import LabelBackend
from labeler.models import LabelResult, ObjectRef


@dataclass
class FailFirstCalls:
    """Wraps a backend; the first ``failures`` calls raise LabelServiceThrottled. Thread-safe."""

    inner: LabelBackend
    failures: int
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return self.inner.name

    def detect_labels(self, image: ObjectRef) -> LabelResult:
        with self._lock:
            self.calls += 1
            call = self.calls
        if call <= self.failures:
            raise LabelServiceThrottled(f"injected fault: call {call} of {self.failures} failing calls")
        return self.inner.detect_labels(image)
