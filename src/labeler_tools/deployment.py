"""One description of a deployment, below both the CLI's operator logic and the local runtime.

- :class:`StackNames`: the physical names of a local stack (on AWS, CloudFormation names them).
- :class:`Deployment`: what every deployment has (a CloudFormation stack's outputs read it by their
  output keys, ``labeler.blueprint.StackOutput``).
- :class:`LocalResources`: what ``labeler local`` provisions, and :class:`Discovery`: the discovery file
  (``<data dir>/local.json``) it writes while it runs and the CLI, the tests and the benchmark read.
  One model, written and read.

Light on purpose: the CLI imports it without importing moto.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labeler.blueprint import FUNCTIONS, FunctionSpec, StackOutput

DEFAULT_DATA_DIR = Path(".labeler")
DISCOVERY_FILE = "local.json"


@dataclass(frozen=True)
class StackNames:
    """Physical names of one local stack."""

    prefix: str = "image-labeler"

    @property
    def upload_bucket(self) -> str:
        return f"{self.prefix}-uploads"

    @property
    def results_table(self) -> str:
        return f"{self.prefix}-results"

    @property
    def usage_table(self) -> str:
        return f"{self.prefix}-usage"

    @property
    def labels_table(self) -> str:
        return f"{self.prefix}-labels"

    @property
    def deletion_rule(self) -> str:
        return f"{self.prefix}-deletions"

    @property
    def failure_topic(self) -> str:
        return f"{self.prefix}-failures"

    @property
    def state_machine(self) -> str:
        return f"{self.prefix}-pipeline"

    @property
    def backfill_state_machine(self) -> str:
        return f"{self.prefix}-backfill"

    @property
    def library_bucket(self) -> str:
        """Local only: a bucket for the operator's own photos, which backfill labels (not versioned,
        like many a user's bucket on AWS)."""
        return f"{self.prefix}-library"

    @property
    def upload_rule(self) -> str:
        return f"{self.prefix}-uploads"

    @property
    def identity_pool(self) -> str:
        return f"{self.prefix.replace('-', '_')}_guests"

    @property
    def notifications_queue(self) -> str:
        """Local only: an SQS queue subscribed to the failure topic with the email subscription's
        filter policy, so the console shows what an operator's inbox would get."""
        return f"{self.prefix}-failure-notifications"

    def function(self, spec: FunctionSpec) -> str:
        return f"{self.prefix}-{spec.name}"

    def handler_modules(self) -> dict[str, str]:
        """Function name -> handler module, for the local Lambda runtimes (sandboxes or in process)."""
        return {self.function(spec): f"functions.{spec.name}.handler" for spec in FUNCTIONS}


class Deployment(BaseModel):
    """The resources the operator commands need, on AWS or locally."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    region: str = Field(alias=StackOutput.REGION)
    upload_bucket: str = Field(alias=StackOutput.UPLOAD_BUCKET)
    results_table: str = Field(alias=StackOutput.RESULTS_TABLE)
    #: The label index (``labeler.label_index``); None for a stack deployed before it existed.
    labels_table: str | None = Field(default=None, alias=StackOutput.LABELS_TABLE)
    state_machine_arn: str = Field(alias=StackOutput.STATE_MACHINE)
    #: None for a stack deployed before backfill existed.
    backfill_state_machine_arn: str | None = Field(default=None, alias=StackOutput.BACKFILL_STATE_MACHINE)
    #: What the label function labels with (``Settings.label_settings``): a dry run's ``stale`` compares it.
    label_settings: str | None = Field(default=None, alias=StackOutput.LABEL_SETTINGS)
    #: A bucket of the operator's whose objects backfill may label (``-c libraryBucket``), under
    #: ``library_prefix``; None when the deployment names none.
    library_bucket: str | None = Field(default=None, alias=StackOutput.LIBRARY_BUCKET)
    library_prefix: str = Field(default="", alias=StackOutput.LIBRARY_PREFIX)

    @property
    def account(self) -> str:
        """The account id, from the state machine's ARN (``arn:aws:states:<region>:<account>:...``)."""
        return self.state_machine_arn.split(":")[4]


class LocalResources(Deployment):
    """Everything ``labeler local`` provisions (``labeler_tools.local.provision``)."""

    usage_table: str
    failure_topic_arn: str
    upload_rule: str
    identity_pool_id: str
    notifications_queue_url: str


class Discovery(LocalResources):
    """``<data dir>/local.json``: where a running ``labeler local`` answers, and what it runs."""

    endpoint_url: str
    web_url: str
    label_backend: str
    pid: int
    started_at: str


def discovery_path(data_dir: Path = DEFAULT_DATA_DIR) -> Path:
    return data_dir / DISCOVERY_FILE


def write_atomically(path: Path, text: str) -> None:
    """Readers (the CLI, tests, the benchmark) see the old file or the whole new one, never a part."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_discovery(data_dir: Path, discovery: Discovery) -> None:
    write_atomically(discovery_path(data_dir), discovery.model_dump_json(indent=2) + "\n")


class DiscoveryUnreadable(ValueError):
    """The discovery file exists but is not one ``labeler local`` wrote."""


def read_discovery(data_dir: Path = DEFAULT_DATA_DIR) -> Discovery | None:
    """The running stack's discovery file, or None when there is none."""
    path = discovery_path(data_dir)
    try:
        return Discovery.model_validate_json(path.read_text())
    except FileNotFoundError:
        return None
    except ValidationError as error:
        raise DiscoveryUnreadable(
            f"{path} is not a discovery file of `labeler local`: {error.errors()[0]['msg']}."
        ) from error
