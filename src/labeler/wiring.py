"""The one place that builds the handlers' dependencies from the settings: the AWS adapters, the label
backend, and the fault injectors around them when ``LABELER_FAULT_*`` asks for them (never on AWS)."""

from __future__ import annotations

from labeler.aws import clients
from labeler.aws.executions import StepFunctionsExecutions
from labeler.aws.label_index import LabelIndexTable
from labeler.aws.objects import ObjectVersions, S3ObjectHeads
from labeler.aws.results import ResultsRepository
from labeler.aws.usage import UsageTable
from labeler.faults import ThrottledWrites, with_label_faults
from labeler.ports import (
    ExecutionLookup,
    LabelBackend,
    ObjectHeads,
    ObjectVersionStore,
    RecordClaims,
    ResultWriter,
)
from labeler.quota import DailyQuota
from labeler.settings import Settings


def results_repository(settings: Settings) -> ResultsRepository:
    """The results table, with the label index kept in step by every outcome written."""
    client = clients.dynamodb()
    index = LabelIndexTable(client, settings.labels_table) if settings.labels_table else None
    return ResultsRepository(client, settings.results_table, index)


def results_writer(settings: Settings) -> ResultWriter:
    """The results table, behind storage fault injection only when it is configured."""
    writer: ResultWriter = results_repository(settings)
    if settings.fault_storage_throttle_rate:
        writer = ThrottledWrites(writer, settings.fault_storage_throttle_rate)
    return writer


def daily_quota(settings: Settings) -> DailyQuota:
    return DailyQuota(
        UsageTable(clients.dynamodb(), settings.usage_table),
        per_owner=settings.quota_per_owner_per_day,
        overall=settings.quota_global_per_day,
        exempt_owners=settings.quota_exempt_owners,
    )


def record_claims(settings: Settings) -> RecordClaims:
    return results_repository(settings)


def object_heads() -> ObjectHeads:
    return S3ObjectHeads(clients.s3())


def execution_lookup() -> ExecutionLookup:
    return StepFunctionsExecutions(clients.stepfunctions())


def object_versions() -> ObjectVersionStore:
    return ObjectVersions(clients.s3())


def label_backend(settings: Settings) -> LabelBackend:
    """The backend named by ``LABELER_LABEL_BACKEND``, behind fault injection when it is configured."""
    return with_label_faults(_named_backend(settings), settings)


def _named_backend(settings: Settings) -> LabelBackend:
    if settings.label_backend == "rekognition":
        from labeler.labels.rekognition import RekognitionBackend

        return RekognitionBackend(
            client=clients.rekognition(),
            max_labels=settings.max_labels,
            min_confidence=settings.effective_min_confidence,
        )
    # Imported only here: numpy, Pillow and onnxruntime are not in the Rekognition deployment.
    from labeler.labels.onnx_backend import OnnxBackend

    return OnnxBackend(max_labels=settings.max_labels, min_confidence=settings.effective_min_confidence)
