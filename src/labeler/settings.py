"""Run-time settings of the Lambda functions, read from the environment (``LABELER_*``).

The CDK stack and the local runtime both set these variables from ``labeler.blueprint``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from labeler.blueprint import DEFAULT_QUOTA

LabelBackendName = Literal["rekognition", "onnx"]
#: Percent: the lowest confidence each backend keeps when ``LABELER_MIN_CONFIDENCE`` is unset. It is a
#: floor, lower than anyone would show: the records and the label index keep every label above it, so
#: a search at a higher threshold (chosen at query time) needs no relabel. Rekognition's own default
#: is 55%; the offline model's floor is explained in ``labeler.labels.onnx_backend``.
DEFAULT_MIN_CONFIDENCE: dict[LabelBackendName, float] = {"rekognition": 50.0, "onnx": 10.0}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LABELER_", frozen=True)

    results_table: str = Field(default="", description="DynamoDB table that holds one record per image.")
    usage_table: str = Field(default="", description="DynamoDB table of the daily quota counters.")
    labels_table: str = Field(
        default="", description="DynamoDB table of the label index (labeler.label_index)."
    )
    #: Images one owner (``uploads/<owner>/``) may have labeled per UTC day; 0 means no limit.
    quota_per_owner_per_day: int = Field(default=DEFAULT_QUOTA.per_owner_per_day, ge=0)
    #: Images everyone together may have labeled per UTC day; 0 means no limit.
    quota_global_per_day: int = Field(default=DEFAULT_QUOTA.global_per_day, ge=0)
    #: Owners no quota applies to (operators' own prefixes); JSON list in the environment.
    quota_exempt_owners: frozenset[str] = frozenset(DEFAULT_QUOTA.exempt_owners)
    label_backend: LabelBackendName = "rekognition"
    max_labels: int = Field(default=10, ge=1, le=1000)
    #: Percent. Unset means the backend's own floor: 50 for Rekognition, 10 for the offline model.
    min_confidence: float | None = Field(default=None, ge=0, le=100)
    #: Upper bound for the label payload carried through the state machine (limit is 256 KB).
    max_label_payload_bytes: int = 32_000
    # Fault injection (local stack and tests only; see labeler.faults). Zero disables each.
    #: The first N label calls of this process fail with LabelServiceThrottled, then it heals.
    fail_first_label_calls: int = Field(default=0, ge=0)
    #: Probability that a label call fails with LabelServiceThrottled.
    fault_label_failure_rate: float = Field(default=0.0, ge=0, le=1)
    #: Seconds each label call sleeps first (beyond the function timeout: a Lambda timeout).
    fault_label_delay_s: float = Field(default=0.0, ge=0)
    #: Probability that a results-table write fails with StorageThrottled.
    fault_storage_throttle_rate: float = Field(default=0.0, ge=0, le=1)

    @property
    def effective_min_confidence(self) -> float:
        if self.min_confidence is None:
            return DEFAULT_MIN_CONFIDENCE[self.label_backend]
        return self.min_confidence

    @property
    def label_settings(self) -> str:
        """What labels are made with, apart from the model's version (which the backend reports): a
        record labeled otherwise is ``stale`` to a backfill."""
        threshold = f"{self.effective_min_confidence:g}"
        return f"{self.label_backend} max_labels={self.max_labels} min_confidence={threshold}"


def settings_from_environment(environment: Mapping[str, str]) -> Settings:
    """The settings a function whose environment is ``environment`` reads (as its ``os.environ``)."""

    class _Given(EnvSettingsSource):
        def _load_env_vars(self) -> Mapping[str, str | None]:
            return {name.lower(): value for name, value in environment.items()}

    class _FromEnvironment(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - the signature pydantic calls
            env_settings: PydanticBaseSettingsSource,  # noqa: ARG003
            dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
            file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (_Given(settings_cls),)  # only the given environment

    return Settings.model_validate(_FromEnvironment().model_dump())


@cache
def get_settings() -> Settings:
    return Settings()
