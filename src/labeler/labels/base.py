"""The label backend interface and its factory."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from labeler.models import LabelResult, ObjectRef
from labeler.settings import Settings


@runtime_checkable
class LabelBackend(Protocol):
    """Detects labels in one image stored in S3.

    Implementations return labels in Rekognition's schema (title-cased names, confidence in percent,
    parents/aliases/categories/instances present even if empty) and raise the typed errors of
    ``labeler.errors``: LabelServiceThrottled (retried by the state machine), ImageRejected
    (permanent, the image's fault), LabelBackendMisconfigured (permanent, not the image's fault).
    They must be safe to call from several threads at once.
    """

    @property
    def name(self) -> str: ...

    def detect_labels(self, image: ObjectRef) -> LabelResult: ...


def build_backend(settings: Settings) -> LabelBackend:
    """The backend named by ``LABELER_LABEL_BACKEND``, behind fault injection when it is configured."""
    from labeler.faults import with_label_faults

    return with_label_faults(_named_backend(settings), settings)


def _named_backend(settings: Settings) -> LabelBackend:
    if settings.label_backend == "rekognition":
        from labeler.aws import clients
        from labeler.labels.rekognition import RekognitionBackend

        return RekognitionBackend(
            client=clients.rekognition(),
            max_labels=settings.max_labels,
            min_confidence=70.0 if settings.min_confidence is None else settings.min_confidence,
        )
    from labeler.labels.onnx_backend import DEFAULT_MIN_CONFIDENCE, OnnxBackend

    return OnnxBackend(
        max_labels=settings.max_labels,
        min_confidence=DEFAULT_MIN_CONFIDENCE if settings.min_confidence is None else settings.min_confidence,
    )
