"""The backfill workflow (statemachine/backfill.asl.json) run by moto's interpreter: its Distributed
Map lists objects, the backfill function plans each, and the pipeline state machine labels them."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import functions.label.handler as label_handler
import functions.validate.handler as validate_handler
from labeler.aws.label_index import LabelIndexTable
from labeler.aws.results import ResultsRepository
from labeler.backfill import BackfillRun
from labeler.errors import LabelServiceThrottled
from labeler.label_index import indexed_labels, label_key
from labeler.models import ImageStatus, Label, LabelResult, ObjectRef
from labeler.ports import LabelBackend
from labeler.quota import DailyQuota
from labeler_tools.cli import app
from labeler_tools.deployment import LocalResources
from labeler_tools.local import runner
from labeler_tools.local.server import LocalAws
from labeler_tools.samples import photo_like
from tests.conftest import NAMES, drain_executions
from tests.integration.pipeline_helpers import competing_record, discovery_dir, fresh_usage_table

pytestmark = pytest.mark.integration


@dataclass
class CountingBackend:
    """The label function's backend, recording the key of every label call; keys containing one of
    ``failing`` fail as a throttled service would (retried, then FAILED)."""

    backend: LabelBackend
    calls: list[str]
    failing: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.backend.name

    def warm_up(self) -> None:
        self.backend.warm_up()

    def detect_labels(self, image: ObjectRef) -> LabelResult:
        self.calls.append(image.key)
        if any(marker in image.key for marker in self.failing):
            raise LabelServiceThrottled("injected: the label service is down for this key")
        return self.backend.detect_labels(image)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> CountingBackend:
    backend = CountingBackend(label_handler.backend, [])
    monkeypatch.setattr(label_handler, "backend", backend)
    return backend


@pytest.fixture
def label_calls(counting: CountingBackend) -> list[str]:
    return counting.calls


def run_backfill(local_aws: LocalAws, stack: LocalResources, **run: Any) -> dict[str, Any]:
    sfn = local_aws.session().client("stepfunctions")
    assert stack.backfill_state_machine_arn is not None
    arn = sfn.start_execution(
        stateMachineArn=stack.backfill_state_machine_arn,
        name=f"test-{uuid.uuid4().hex[:12]}",
        input=json.dumps({"run": BackfillRun(bucket=stack.upload_bucket, **run).model_dump(mode="json")}),
    )["executionArn"]
    return dict(runner.wait_for_execution(sfn, arn, timeout_s=120))


def test_missing_labels_what_has_no_outcome_and_leaves_the_rest(
    local_aws: LocalAws, stack: LocalResources, owner: str
) -> None:
    session = local_aws.session()
    s3 = session.client("s3")
    sfn = session.client("stepfunctions")
    prefix = f"uploads/{owner}/"
    labeled = runner.upload(s3, stack.upload_bucket, f"{prefix}labeled.jpg", photo_like(120, 90))
    runner.wait_for_execution(sfn, runner.start_execution(sfn, stack.state_machine_arn, labeled))
    for index in range(3):
        s3.put_object(Bucket=stack.upload_bucket, Key=f"{prefix}old-{index}.jpg", Body=photo_like(100, 100))
    s3.put_object(Bucket=stack.upload_bucket, Key=f"{prefix}notes.txt", Body=b"not an image")
    results = ResultsRepository(session.client("dynamodb"), stack.results_table)
    before = results.get(owner, f"{prefix}labeled.jpg")

    execution = run_backfill(local_aws, stack, name="missing-1", prefix=prefix, mode="missing")

    assert execution["status"] == "SUCCEEDED", execution
    written = json.loads(execution["output"])["results"]["ResultWriterDetails"]
    assert written["Bucket"] == stack.upload_bucket and written["Key"].startswith("backfill-runs/")
    manifest = json.loads(s3.get_object(Bucket=written["Bucket"], Key=written["Key"])["Body"].read())
    assert manifest["MapRunArn"] == json.loads(execution["output"])["results"]["MapRunArn"]
    for index in range(3):
        record = results.get(owner, f"{prefix}old-{index}.jpg")
        assert record is not None and record.status is ImageStatus.LABELED, record
        assert record.backfill_run == "missing-1"
        assert record.label_settings
    junk = results.get(owner, f"{prefix}notes.txt")
    assert junk is not None and junk.status is ImageStatus.REJECTED
    assert results.get(owner, f"{prefix}labeled.jpg") == before


def plan(local_aws: LocalAws, stack: LocalResources, key: str, **run: Any) -> dict[str, Any]:
    """What the backfill function's plan step answers for one listed object."""
    request = {
        "action": "plan",
        "run": BackfillRun(bucket=stack.upload_bucket, **run).model_dump(mode="json"),
        "pipeline": stack.state_machine_arn,
        "item": {"key": key},  # what the map's ItemSelector passes
    }
    answer = (
        local_aws.session()
        .client("lambda")
        .invoke(FunctionName=f"{NAMES.prefix}-backfill", Payload=json.dumps(request))
    )
    planned: dict[str, Any] = json.loads(answer["Payload"].read())
    return planned


def test_an_upload_event_racing_a_backfill_of_the_same_version_labels_it_once(
    local_aws: LocalAws, stack: LocalResources, owner: str, label_calls: list[str]
) -> None:
    session = local_aws.session()
    sfn = session.client("stepfunctions")
    key = f"uploads/{owner}/raced.jpg"
    event = runner.upload(session.client("s3"), stack.upload_bucket, key, photo_like(120, 90))
    planned = plan(local_aws, stack, key, name="race-1")
    assert planned["label"], planned

    # The upload's own event arrives while the backfill's claim holds: it labels nothing.
    upload_run = runner.start_execution(sfn, stack.state_machine_arn, event)
    assert runner.wait_for_execution(sfn, upload_run)["status"] == "SUCCEEDED"
    assert label_calls == []
    backfill_arn = runner.start_execution(
        sfn, stack.state_machine_arn, planned["input"], name=planned["name"]
    )
    assert runner.wait_for_execution(sfn, backfill_arn)["status"] == "SUCCEEDED"

    record = ResultsRepository(session.client("dynamodb"), stack.results_table).get(owner, key)
    assert record is not None and record.status is ImageStatus.LABELED
    assert (record.execution_id, record.backfill_run) == (backfill_arn, "race-1")
    assert label_calls == [key]  # one label call
    history = sfn.get_execution_history(executionArn=upload_run)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
    assert entered == ["Validate", "IsDuplicate", "AlreadyStored"]


def indexed_repository(local_aws: LocalAws, stack: LocalResources) -> ResultsRepository:
    """The session's results table and label index, as the store step writes them."""
    client = local_aws.session().client("dynamodb")
    assert stack.labels_table is not None
    return ResultsRepository(client, stack.results_table, LabelIndexTable(client, stack.labels_table))


def seed(
    local_aws: LocalAws, stack: LocalResources, owner: str, names: list[str], **record: Any
) -> dict[str, str]:
    """Store ``names`` under the owner's prefix (one small photo's bytes each): key -> ETag; with
    ``record`` fields, each also gets a LABELED record of its content, as if labeled before (and is
    indexed under its labels)."""
    session = local_aws.session()
    s3, results = session.client("s3"), indexed_repository(local_aws, stack)
    body = photo_like(96, 96)
    etags: dict[str, str] = {}
    for name in names:
        key = f"uploads/{owner}/{name}"
        etags[key] = s3.put_object(Bucket=stack.upload_bucket, Key=key, Body=body)["ETag"].strip('"')
        if record:
            labeled = competing_record(owner, ImageStatus.LABELED, "0A", execution="earlier").model_copy(
                update={"image_name": key, "etag": etags[key], "bucket": stack.upload_bucket, **record}
            )
            assert results.put_if_newer(labeled)
    return etags


def map_counts(local_aws: LocalAws, execution_arn: str) -> dict[str, Any]:
    sfn = local_aws.session().client("stepfunctions")
    (map_run,) = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
    return dict(sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])["itemCounts"])


@pytest.mark.timeout(300)  # 25-60 s here, as this machine's speed varies; 1,500 objects took 85 s
def test_missing_over_more_than_one_listing_page_labels_each_object_without_an_outcome_once(
    local_aws: LocalAws, stack: LocalResources, owner: str, label_calls: list[str]
) -> None:
    labeled_before = seed(
        local_aws, stack, owner, [f"labeled-{index:04}.jpg" for index in range(300)],
        label_settings=stack.label_settings,
    )  # fmt: skip
    never = seed(local_aws, stack, owner, [f"never-{index:04}.jpg" for index in range(750)])
    results = ResultsRepository(local_aws.session().client("dynamodb"), stack.results_table)
    before = results.records((owner, key) for key in labeled_before)

    execution = run_backfill(
        local_aws, stack, name="library-1", prefix=f"uploads/{owner}/", max_concurrency=8
    )

    assert execution["status"] == "SUCCEEDED", execution
    assert Counter(label_calls) == Counter(list(never))  # each once, and none of those labeled before
    after = results.records((owner, key) for key in [*labeled_before, *never])
    assert {key: after[(owner, key)] for key in labeled_before} == {
        key: before[(owner, key)] for key in labeled_before
    }
    for key in never:
        record = after[(owner, key)]
        assert (record.status, record.backfill_run, record.etag) == (
            ImageStatus.LABELED,
            "library-1",
            never[key],
        )
    counts = map_counts(local_aws, execution["executionArn"])
    assert (counts["total"], counts["succeeded"], counts["failed"]) == (1_050, 1_050, 0)


#: A label the offline model never gives (it has no such class): what an earlier model had said.
OLD_MODEL_LABEL = Label(name="Daguerreotype", confidence=88.0, parents=["Old Photograph"])


def test_stale_relabels_what_another_model_labeled_and_leaves_the_rest(
    local_aws: LocalAws, stack: LocalResources, owner: str, label_calls: list[str]
) -> None:
    labeled = {"labels": [OLD_MODEL_LABEL], "label_settings": stack.label_settings}
    current = seed(local_aws, stack, owner, ["current.jpg"], **labeled, label_model_version="m@2")
    older = seed(
        local_aws, stack, owner, ["older-1.jpg", "older-2.jpg"], **labeled, label_model_version="m@1"
    )
    otherwise = seed(
        local_aws, stack, owner, ["otherwise.jpg"], labels=[OLD_MODEL_LABEL],
        label_settings="onnx max_labels=3 min_confidence=50",
    )  # fmt: skip
    seed(local_aws, stack, owner, ["never.jpg"])

    execution = run_backfill(
        local_aws, stack, name="relabel-1", prefix=f"uploads/{owner}/", mode="stale", model_version="m@2"
    )

    assert execution["status"] == "SUCCEEDED", execution
    assert sorted(label_calls) == sorted([*older, *otherwise])  # not the current one, not the unlabeled one
    assert current
    # The relabel moved the index with the records: the old model's label finds only the image it
    # still labels, and every key finds exactly the images whose records carry it.
    repository = indexed_repository(local_aws, stack)
    assert repository.label_index is not None
    records = repository.records((owner, key) for key in [*current, *older, *otherwise])
    expected = {
        key: sorted(record.image_name for record in records.values() if key in indexed_labels(record))
        for record in records.values()
        for key in indexed_labels(record)
    }
    assert expected[label_key(OLD_MODEL_LABEL.name)] == sorted(current)
    counts = {count.key: count.images for count in repository.label_index.counts(owner)}
    assert counts == {key: len(images) for key, images in expected.items()}
    for key, images in expected.items():
        assert sorted(entry.image_name for entry in repository.label_index.images(key, owner)) == images


def test_failed_objects_are_recorded_and_mode_failed_labels_them_once_healed(
    local_aws: LocalAws, stack: LocalResources, owner: str, counting: CountingBackend
) -> None:
    names = [f"ok-{index}.jpg" for index in range(4)] + ["flaky-1.jpg", "flaky-2.jpg"]
    etags = seed(local_aws, stack, owner, names)
    counting.failing = {"flaky"}
    prefix = f"uploads/{owner}/"
    results = ResultsRepository(local_aws.session().client("dynamodb"), stack.results_table)

    tolerant = run_backfill(
        local_aws, stack, name="tolerant-1", prefix=prefix, tolerated_failure_percentage=50.0
    )
    assert tolerant["status"] == "SUCCEEDED", tolerant  # 2 of 6 failed: within 50%
    flaky = [key for key in etags if "flaky" in key]
    for key in flaky:
        record = results.get(owner, key)
        assert record is not None
        assert (record.status, record.error_code) == (ImageStatus.FAILED, "LabelServiceThrottled")
    assert map_counts(local_aws, tolerant["executionArn"])["failed"] == 2

    strict = run_backfill(local_aws, stack, name="strict-1", prefix=prefix, mode="failed")
    assert (strict["status"], strict.get("error")) == ("FAILED", "States.ExceedToleratedFailureThreshold")

    counting.failing = set()
    counting.calls.clear()
    healed = run_backfill(local_aws, stack, name="failed-1", prefix=prefix, mode="failed")

    assert healed["status"] == "SUCCEEDED", healed
    assert sorted(counting.calls) == sorted(flaky)
    assert all(results.get(owner, key).status is ImageStatus.LABELED for key in etags)  # type: ignore[union-attr]


def test_a_run_past_the_sites_daily_limit_stops_and_the_next_days_run_labels_the_rest(
    local_aws: LocalAws,
    stack: LocalResources,
    owner: str,
    label_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = local_aws.session()
    # One image per uploader and 4 for the site a day: a run is held to the site's limit only.
    today = DailyQuota(fresh_usage_table(session), per_owner=1, overall=4)
    monkeypatch.setattr(validate_handler, "quota", today)
    keys = list(seed(local_aws, stack, owner, [f"{index:02}.jpg" for index in range(12)]))
    results = ResultsRepository(session.client("dynamodb"), stack.results_table)

    stopped = run_backfill(local_aws, stack, name="over-limit-1", prefix=f"uploads/{owner}/")

    assert (stopped["status"], stopped.get("error")) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    # AWS stops the pipeline executions of a failed Map Run's items; moto lets them finish. Claims whose
    # execution the stop left unstarted are abandoned: the next run labels them.
    drain_executions(session, stack)
    assert len(label_calls) == 4
    records = results.records((owner, key) for key in keys)
    labeled = {key for (_, key), record in records.items() if record.status is ImageStatus.LABELED}
    assert labeled == set(label_calls)
    refused = [record for record in records.values() if record.status is ImageStatus.REJECTED]
    assert refused and {record.error_code for record in refused} == {"QUOTA_EXCEEDED"}

    monkeypatch.setattr(
        validate_handler, "quota", DailyQuota(fresh_usage_table(session), per_owner=1, overall=8)
    )
    label_calls.clear()
    next_day = run_backfill(local_aws, stack, name="over-limit-2", prefix=f"uploads/{owner}/")

    assert next_day["status"] == "SUCCEEDED", next_day
    assert sorted(label_calls) == sorted(set(keys) - labeled)  # the refused, and any the stop left
    assert {record.status for record in results.records((owner, key) for key in keys).values()} == {
        ImageStatus.LABELED
    }


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, local_aws: LocalAws, stack: LocalResources) -> Path:
    """The discovery file `labeler local` would write for this stack (the CLI finds it there)."""
    return discovery_dir(tmp_path_factory.mktemp("labeler"), local_aws, stack, label_backend="rekognition")


def test_the_cli_counts_a_dry_run_by_reason_then_runs_and_follows_it(
    local_aws: LocalAws,
    stack: LocalResources,
    owner: str,
    data_dir: Path,
    label_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")  # the handlers run here: no EMF on stdout
    labeled = seed(local_aws, stack, owner, ["labeled.jpg"], label_settings=stack.label_settings)
    never = seed(local_aws, stack, owner, ["a.jpg", "b.jpg"])
    prefix = f"uploads/{owner}/"
    cli = CliRunner()

    def labeler(*args: str) -> Any:
        return cli.invoke(app, ["backfill", "--prefix", prefix, *args, "--data-dir", str(data_dir)])

    dry = labeler("--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout)
    assert (plan["listed"], plan["to_label"]) == (3, 2)
    assert plan["labeled_because"] == {"never labeled": 2}
    assert plan["skipped_because"] == {"LABELED": 1}
    assert plan["estimate"]["rekognition_dollars"] == 0.0  # rounded: 2 images at $0.001
    assert label_calls == []  # a dry run starts nothing

    done = labeler("--wait", "--json", "--name", "cli-run-1")
    assert done.exit_code == 0, done.output
    progress = json.loads(done.stdout)
    assert (progress["status"], progress["succeeded"], progress["failed"]) == ("SUCCEEDED", 3, 0)
    assert progress["results_manifest"].startswith(f"s3://{stack.upload_bucket}/backfill-runs/")
    assert sorted(label_calls) == sorted(never)

    again = labeler("--name", "cli-run-1")
    assert again.exit_code == 1 and "exists already" in again.output
    items = cli.invoke(
        app, ["executions", "list", "--backfill", "cli-run-1", "--json", "--data-dir", str(data_dir)]
    )
    assert sorted(item["key"] for item in json.loads(items.stdout)) == sorted(never)
    assert labeled


def test_a_library_bucket_is_labeled_under_its_own_owner_and_no_other_bucket_is_listed(
    local_aws: LocalAws,
    stack: LocalResources,
    owner: str,
    data_dir: Path,
    label_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    library = stack.library_bucket
    assert library is not None
    s3 = local_aws.session().client("s3")
    photos = [f"{owner}/2019/beach.jpg", f"{owner}/2019/uploads/x/dog.jpg", f"{owner}/café 2.jpg"]
    for key in photos:  # any key is a photo; the bucket is not versioned
        s3.put_object(Bucket=library, Key=key, Body=photo_like(100, 80))
    s3.put_object(Bucket=library, Key=f"{owner}/notes.txt", Body=b"not an image")
    cli = CliRunner()

    def labeler(*args: str) -> Any:
        return cli.invoke(app, [*args, "--data-dir", str(data_dir)])

    done = labeler("backfill", "--bucket", library, "--prefix", f"{owner}/", "--wait", "--json")

    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["succeeded"] == 4
    assert sorted(label_calls) == sorted(photos)
    results = ResultsRepository(local_aws.session().client("dynamodb"), stack.results_table)
    stored = results.records((f"library:{library}", key) for key in [*photos, f"{owner}/notes.txt"])
    statuses = {key: record.status for (_, key), record in stored.items()}
    assert statuses == {
        **dict.fromkeys(photos, ImageStatus.LABELED),
        f"{owner}/notes.txt": ImageStatus.REJECTED,
    }
    assert {record.version_id for record in stored.values()} == {None}
    assert {record.bucket for record in stored.values()} == {library}
    assert all(stored[(f"library:{library}", key)].labels for key in photos)
    listed = labeler("list", "--owner", f"library:{library}", "--json")
    assert {item["key"] for item in json.loads(listed.stdout)} >= set(photos)

    elsewhere = labeler("backfill", "--bucket", "someone-elses-bucket", "--dry-run")
    assert elsewhere.exit_code == 1 and "may not read 'someone-elses-bucket'" in elsewhere.output
    outside = labeler("backfill", "--prefix", "exports/", "--dry-run")
    assert outside.exit_code == 1 and "outside 'uploads/'" in outside.output
