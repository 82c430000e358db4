"""``labeler backfill``: label what is already stored, through the backfill workflow.

The workflow (``statemachine/backfill.asl.json``) does the work, on AWS or on the local stack: its
Distributed Map lists the prefix and plans each object (``labeler.backfill``). This module starts a
run, follows it through its map run's counts, and prices a dry run, which reads the listing and the
records itself (one BatchGetItem per 100 objects) and decides each object as the plan step would.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from labeler.aws.codes import error_code
from labeler.backfill import NOT_AN_UPLOAD, BackfillRun, Labeling, ListedObject, decide
from labeler.events import execution_arn
from labeler.models import UPLOAD_PREFIX, ExecutionStatus
from labeler_tools.ops.costs import Estimate, backfill_estimate
from labeler_tools.ops.errors import OperatorError
from labeler_tools.ops.target import Target


class BackfillUnavailable(OperatorError):
    """The target has no backfill workflow, or it cannot start this run."""


class DryRun(BaseModel):
    """What a run would do, decided object by object as its plan step would (live claims included)."""

    model_config = ConfigDict(frozen=True)

    run: BackfillRun
    listed: int
    to_label: int
    #: How many objects each reason covers, labeled or not (the plan's reasons).
    labeled_because: dict[str, int]
    skipped_because: dict[str, int]
    estimate: Estimate


class RunProgress(BaseModel):
    """A run as its execution and its map run say (DescribeExecution, DescribeMapRun)."""

    model_config = ConfigDict(frozen=True)

    name: str
    execution_arn: str
    status: ExecutionStatus
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    running: int = 0
    pending: int = 0
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    error: str | None = None
    cause: str | None = None
    #: ``s3://`` of the manifest the map's ResultWriter wrote when the run ended (on AWS it lists the
    #: files of the run's succeeded and failed items; the local stack writes the manifest alone).
    results_manifest: str | None = None

    @property
    def done(self) -> int:
        return self.succeeded + self.failed


def default_run_name(now: datetime | None = None) -> str:
    return f"backfill-{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}"


@dataclass
class Backfill:
    target: Target

    @property
    def state_machine_arn(self) -> str:
        arn = self.target.deployment.backfill_state_machine_arn
        if arn is None:
            raise BackfillUnavailable(
                f"The {self.target.description} has no backfill workflow: deploy this version of the stack."
            )
        return arn

    def new_run(self, bucket: str | None = None, prefix: str | None = None, **settings: Any) -> BackfillRun:
        """A run over a prefix of the upload bucket (``uploads/`` by default) or of the deployment's
        library bucket (its whole prefix by default): the workflow may list nothing else."""
        deployment = self.target.deployment
        if bucket in (None, deployment.upload_bucket):
            bucket, allowed, library = deployment.upload_bucket, UPLOAD_PREFIX, False
        elif bucket == deployment.library_bucket:
            allowed, library = deployment.library_prefix, True
        else:
            named = (
                f"its library bucket is {deployment.library_bucket}"
                if deployment.library_bucket
                else ("it names no library bucket (deploy with -c libraryBucket=NAME)")
            )
            raise BackfillUnavailable(
                f"The {self.target.description} may not read {bucket!r}: its upload bucket is "
                f"{deployment.upload_bucket}, and {named}."
            )
        prefix = allowed if prefix is None else prefix
        if not prefix.startswith(allowed):
            raise BackfillUnavailable(
                f"--prefix {prefix!r} is outside {allowed!r}, the part of {bucket} the workflow may list."
            )
        return BackfillRun(bucket=bucket, prefix=prefix, library=library, **settings)

    # -- dry run -----------------------------------------------------------------------------------

    def listing(self, run: BackfillRun) -> Iterator[list[ListedObject]]:
        """The run's objects, a ListObjectsV2 page at a time (as its map reads them)."""
        pages = self.target.s3.get_paginator("list_objects_v2").paginate(Bucket=run.bucket, Prefix=run.prefix)
        for page in pages:
            yield [
                ListedObject(key=entry["Key"], etag=entry["ETag"].strip('"'))
                for entry in page.get("Contents", [])
            ]

    def dry_run(self, run: BackfillRun, on_page: Callable[[int], None] | None = None) -> DryRun:
        """Decide every listed object; ``on_page(objects so far)`` after each page."""
        settings = self.target.deployment.label_settings
        results = self.target.results()
        labeled: Counter[str] = Counter()
        skipped: Counter[str] = Counter()
        listed = 0
        now = datetime.now(UTC)
        for page in self.listing(run):
            owners = {item.key: run.owner(item.key) for item in page}
            records = results.records((owner, key) for key, owner in owners.items() if owner)
            for item in page:
                owner = owners[item.key]
                if owner is None:
                    skipped[NOT_AN_UPLOAD] += 1
                    continue
                labeling = Labeling(
                    etag=item.etag, label_settings=settings or "", model_version=run.model_version
                )
                decision = decide(run.mode, records.get((owner, item.key)), labeling, now)
                (labeled if decision.label else skipped)[decision.reason] += 1
            listed += len(page)
            if on_page:
                on_page(listed)
        to_label = sum(labeled.values())
        return DryRun(
            run=run,
            listed=listed,
            to_label=to_label,
            labeled_because=dict(labeled.most_common()),
            skipped_because=dict(skipped.most_common()),
            estimate=backfill_estimate(listed, to_label, rekognition=not (settings or "").startswith("onnx")),
        )

    # -- a run ---------------------------------------------------------------------------------------

    def start(self, run: BackfillRun) -> RunProgress:
        try:
            arn = self.target.sfn.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=run.name,
                input=json.dumps({"run": run.model_dump(mode="json")}),
            )["executionArn"]
        except ClientError as error:
            if error_code(error) == "ExecutionAlreadyExists":
                raise BackfillUnavailable(
                    f"A backfill run named {run.name!r} exists already: pick another --name, or follow it "
                    f"with `labeler backfill --follow {run.name}`."
                ) from error
            raise
        return self.progress(arn)

    def arn_of(self, name: str) -> str:
        return name if name.startswith("arn:") else execution_arn(self.state_machine_arn, name)

    def progress(self, run_arn: str) -> RunProgress:
        sfn = self.target.sfn
        try:
            described: Any = sfn.describe_execution(executionArn=run_arn)
        except ClientError as error:
            if error_code(error) == "ExecutionDoesNotExist":
                raise BackfillUnavailable(f"No backfill run {run_arn.rsplit(':', 1)[-1]!r}.") from error
            raise
        counts: dict[str, Any] = {}
        map_runs = sfn.list_map_runs(executionArn=run_arn).get("mapRuns", [])
        if map_runs:
            counts = dict(sfn.describe_map_run(mapRunArn=map_runs[0]["mapRunArn"]).get("itemCounts", {}))
        return RunProgress(
            name=described["name"],
            execution_arn=run_arn,
            status=ExecutionStatus(described["status"]),
            total=counts.get("total", 0),
            succeeded=counts.get("succeeded", 0),
            failed=counts.get("failed", 0) + counts.get("timedOut", 0) + counts.get("aborted", 0),
            running=counts.get("running", 0),
            pending=counts.get("pending", 0),
            started_at=described.get("startDate"),
            stopped_at=described.get("stopDate"),
            error=described.get("error"),
            cause=described.get("cause"),
            results_manifest=_results_manifest(described.get("output")),
        )

    def wait(
        self,
        run_arn: str,
        timeout_s: float,
        poll_s: float,
        on_progress: Callable[[RunProgress], None] | None = None,
    ) -> RunProgress:
        """Follow the run until it ends (or ``timeout_s`` passes: its last progress, still RUNNING)."""
        deadline = time.monotonic() + timeout_s
        while True:
            progress = self.progress(run_arn)
            if on_progress:
                on_progress(progress)
            if progress.status.finished or time.monotonic() > deadline:
                return progress
            time.sleep(poll_s)


def _results_manifest(output: str | None) -> str | None:
    written = json.loads(output).get("results", {}).get("ResultWriterDetails") if output else None
    return f"s3://{written['Bucket']}/{written['Key']}" if written else None
