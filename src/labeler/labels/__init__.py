"""Label backends: Rekognition on AWS, an offline model locally; one interface."""

from labeler.labels.base import LabelBackend, build_backend

__all__ = ["LabelBackend", "build_backend"]
