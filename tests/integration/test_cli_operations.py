"""The operator commands against the session's local stack (real moto, real ASL, real handlers).

The CLI finds the stack the way it finds a running ``labeler local``: through a discovery file, and
talks to it over HTTP. Uploads are delivered through the EventBridge rule, as on AWS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner, Result

import functions.label.handler as label_handler
from labeler.faults import FailFirstCalls
from labeler.models import ImageStatus, ResultRecord
from labeler.pipeline import iso_timestamp
from labeler_tools.cli import app
from labeler_tools.deployment import LocalResources
from labeler_tools.local.provision import set_upload_delivery
from labeler_tools.local.server import LocalAws
from labeler_tools.ops.records import Records
from labeler_tools.samples import photo_like
from tests.integration.pipeline_helpers import discovery_dir

pytestmark = pytest.mark.integration

Labeler = Callable[..., Result]
#: Label calls one image makes before it is FAILED: the first try and MaxAttempts 5 retries.
CALLS_PER_FAILED_IMAGE = 6


@pytest.fixture(scope="module")
def session(local_aws: LocalAws, stack: LocalResources) -> Iterator[boto3.Session]:
    """Uploads start executions through the EventBridge rule while this module runs.

    The handlers run in this process: their EMF metrics (printed to stdout) would land in the CLI's
    captured output, so they are off here.
    """
    session = local_aws.session()
    set_upload_delivery(session, stack, enabled=True)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
            yield session
    finally:
        set_upload_delivery(session, stack, enabled=False)
        sfn, deadline = session.client("stepfunctions"), time.monotonic() + 60
        while sfn.list_executions(stateMachineArn=stack.state_machine_arn, statusFilter="RUNNING")[
            "executions"
        ]:
            assert time.monotonic() < deadline, "executions still running after the CLI tests"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, local_aws: LocalAws, stack: LocalResources) -> Path:
    """The discovery file `labeler local` would write for this stack."""
    return discovery_dir(tmp_path_factory.mktemp("labeler"), local_aws, stack, label_backend="onnx")


@pytest.fixture
def labeler(session: boto3.Session, data_dir: Path) -> Labeler:
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(app, [*args, "--data-dir", str(data_dir)], input=stdin)

    return invoke


@pytest.fixture
def records(session: boto3.Session, stack: LocalResources) -> Records:
    return Records(session.client("dynamodb"), stack.results_table)


@pytest.fixture
def outage(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], FailFirstCalls]:
    """The label backend fails its next N calls, then heals."""

    def install(images: int) -> FailFirstCalls:
        flaky = FailFirstCalls(label_handler.backend, images * CALLS_PER_FAILED_IMAGE)
        monkeypatch.setattr(label_handler, "backend", flaky)
        return flaky

    return install


def photos(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        (folder / f"photo {number:02}.jpg").write_bytes(photo_like(160, 120, seed=number))
    return folder


def output(result: Result) -> Any:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.stderr
    return json.loads(result.stdout)


def test_upload_list_status_and_the_execution_behind_a_record(
    labeler: Labeler, tmp_path: Path, owner: str
) -> None:
    folder = photos(tmp_path / "in", 2)
    (folder / "notes.jpg").write_bytes(b"%PDF-1.7 not a photo")
    (folder / ".hidden.jpg").write_bytes(photo_like(100, 100))

    uploaded = labeler("upload", str(folder), "--owner", owner, "--wait", "--json")

    assert uploaded.exit_code == 2, uploaded.stderr  # one file was not labeled
    by_name = {Path(item["path"]).name: item for item in output(uploaded)}
    assert sorted(by_name) == ["notes.jpg", "photo 00.jpg", "photo 01.jpg"]
    assert by_name["photo 00.jpg"]["record"]["status"] == "LABELED"
    assert by_name["photo 00.jpg"]["record"]["labels"][0]["name"]
    assert by_name["notes.jpg"]["record"]["status"] == "REJECTED"
    assert by_name["notes.jpg"]["record"]["error_code"] == "UNSUPPORTED_FORMAT"
    key = by_name["photo 00.jpg"]["key"]
    assert key.startswith(f"uploads/{owner}/") and key.endswith(".jpg") and " " not in key

    listed = output(labeler("list", "--owner", owner, "--json"))
    assert sorted(record["key"] for record in listed) == sorted(item["key"] for item in by_name.values())
    rejected = output(labeler("list", "--owner", owner, "--status", "rejected", "--since", "10m", "--json"))
    assert [record["key"] for record in rejected] == [by_name["notes.jpg"]["key"]]

    status = labeler("status", key)
    assert status.exit_code == 0
    label = by_name["photo 00.jpg"]["record"]["labels"][0]["name"]
    assert "LABELED" in status.stdout and label in status.stdout
    assert labeler("status", by_name["notes.jpg"]["key"]).exit_code == 2

    shown = output(labeler("executions", "show", key, "--json"))
    assert shown["execution"]["status"] == "SUCCEEDED"
    assert shown["object"]["key"] == key
    assert [state["name"] for state in shown["states"]][:1] == ["Validate"]
    assert "Store" in [state["name"] for state in shown["states"]]
    assert shown["outcome"] == "LABELED"
    assert shown["console_url"] is None  # local: no console

    listed_executions = output(labeler("executions", "list", "--since", "10m", "--json"))
    assert key in [execution["key"] for execution in listed_executions]


def test_outage_for_20_uploads_then_replay_wait_labels_all_20(
    labeler: Labeler,
    tmp_path: Path,
    owner: str,
    outage: Callable[[int], FailFirstCalls],
    records: Records,
) -> None:
    flaky = outage(20)
    # Down until healed: with 20 images retrying concurrently, a count of failing calls could let one
    # image's late retry through while another retries more than six times.
    flaky.failures = 10**9

    uploaded = labeler("upload", str(photos(tmp_path / "in", 20)), "--owner", owner, "--wait", "--json")

    assert uploaded.exit_code == 2
    assert [item["record"]["status"] for item in output(uploaded)] == ["FAILED"] * 20
    assert flaky.calls >= 20 * CALLS_PER_FAILED_IMAGE
    flaky.failures = 0  # the backend heals
    keys = sorted(item["key"] for item in output(uploaded))
    failed = output(labeler("list", "--status", "FAILED", "--owner", owner, "--json"))
    assert sorted(record["key"] for record in failed) == keys

    shown = labeler("executions", "show", keys[0])
    assert "LabelServiceThrottled" in shown.stdout and "try 6" in shown.stdout

    replayed = labeler("replay", "--owner", owner, "--wait", "--max-rate", "100", "--json")

    assert replayed.exit_code == 0, replayed.stdout
    assert output(replayed)["summary"] == {
        "replayed": 20,
        "redriven": 0,
        "running": 0,
        "skipped": 0,
        "errors": 0,
        "succeeded": 20,
        "still_failing": 0,
    }
    assert {item["execution_arn"].rsplit(":", 1)[1][:7] for item in output(replayed)["items"]} == {"replay-"}
    assert [getattr(records.get(key), "status", None) for key in keys] == ["LABELED"] * 20

    again = labeler("replay", "--owner", owner, "--wait")

    assert again.exit_code == 0
    assert "Nothing to replay" in again.stderr


def test_replaying_the_same_failure_twice_starts_one_execution(
    labeler: Labeler, tmp_path: Path, owner: str, outage: Callable[[int], FailFirstCalls]
) -> None:
    outage(1)
    uploaded = output(
        labeler("upload", str(photos(tmp_path / "in", 1)), "--owner", owner, "--wait", "--json")
    )
    key = uploaded[0]["key"]

    plan = output(labeler("replay", "--key", key, "--dry-run", "--json"))
    first = output(labeler("replay", "--key", key, "--wait", "--json"))
    second = output(labeler("replay", "--stdin", "--json", stdin=json.dumps(uploaded)))

    assert [item["action"] for item in plan["items"]] == ["restart"]
    assert [item["action"] for item in first["items"]] == ["restart"]
    assert first["items"][0]["execution_arn"] == plan["items"][0]["execution_arn"]
    assert first["items"][0]["status_after"] == "LABELED"
    assert [(item["action"], item["reason"]) for item in second["items"]] == [("skip", "already LABELED")]


@pytest.mark.parametrize("left", ["FAILED", "PROCESSING"], ids=["failed", "claimed while labeling"])
def test_replay_after_a_restart_rebuilds_the_event_for_the_current_object_version(
    labeler: Labeler,
    session: boto3.Session,
    stack: LocalResources,
    tmp_path: Path,
    owner: str,
    outage: Callable[[int], FailFirstCalls],
    records: Records,
    left: str,
) -> None:
    outage(1)
    uploaded = output(
        labeler("upload", str(photos(tmp_path / "in", 1)), "--owner", owner, "--wait", "--json")
    )
    key = uploaded[0]["key"]
    failed = records.get(key)
    assert isinstance(failed, ResultRecord) and failed.status is ImageStatus.FAILED
    # What a restart of `labeler local` leaves: the record, the object re-put under a new version id
    # (uploads are not delivered while restoring), and no executions.
    s3, dynamodb = session.client("s3"), session.client("dynamodb")
    body = s3.get_object(Bucket=stack.upload_bucket, Key=key)["Body"].read()
    set_upload_delivery(session, stack, enabled=False)
    try:
        new_version = s3.put_object(Bucket=stack.upload_bucket, Key=key, Body=body)["VersionId"]
    finally:
        set_upload_delivery(session, stack, enabled=True)
    s3.delete_object(Bucket=stack.upload_bucket, Key=key, VersionId=str(failed.version_id))
    gone = f"{stack.state_machine_arn.replace(':stateMachine:', ':execution:')}:before-the-restart-{owner}"
    # A restart while labeling leaves a PROCESSING claim of an execution that is gone, still live.
    now = iso_timestamp(datetime.now(UTC))
    dynamodb.update_item(
        TableName=stack.results_table,
        Key={"Owner": {"S": owner}, "ImageName": {"S": key}},
        UpdateExpression="SET ExecutionId = :gone, #status = :left, #time = :now",
        ExpressionAttributeNames={"#status": "Status", "#time": "Timestamp"},
        ExpressionAttributeValues={":gone": {"S": gone}, ":left": {"S": left}, ":now": {"S": now}},
    )

    replayed = output(labeler("replay", "--key", key, "--wait", "--json"))

    assert [item["reason"] for item in replayed["items"]] == [
        "execution gone: event rebuilt from the record (current object version)"
    ]
    labeled = records.get(key)
    assert isinstance(labeled, ResultRecord) and labeled.status is ImageStatus.LABELED
    assert labeled.version_id == new_version
    assert labeled.execution_id == replayed["items"][0]["execution_arn"]


def test_delete_removes_the_object_and_reports_bad_keys_touching_nothing_else(
    labeler: Labeler,
    session: boto3.Session,
    stack: LocalResources,
    tmp_path: Path,
    owner: str,
    records: Records,
) -> None:
    uploaded = output(
        labeler("upload", str(photos(tmp_path / "in", 2)), "--owner", owner, "--wait", "--json")
    )
    doomed, kept = (item["key"] for item in uploaded)
    s3, bucket = session.client("s3"), stack.upload_bucket
    missing, outside = f"uploads/{owner}/never-uploaded.jpg", "elsewhere/not-an-upload.jpg"
    s3.put_object(Bucket=bucket, Key=outside, Body=b"x")  # exists, but is no upload: must survive
    before = {key: s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"] for key in (kept, outside)}

    result = labeler("delete", doomed, missing, outside, "--json")

    assert result.exit_code == 2, result.stderr
    items = {item["key"]: item for item in output(result)["items"]}
    assert items[doomed]["deleted"] and items[doomed]["delete_marker"]
    assert items[doomed]["original_name"] == "photo 00.jpg"
    assert not items[missing]["deleted"] and "no such object" in items[missing]["error"]
    assert not items[outside]["deleted"] and "not an upload key" in items[outside]["error"]
    assert output(result)["summary"] == {"deleted": 1, "errors": 2, "cleaned_up": None, "pending": None}
    # The object is gone: S3 left a delete marker (unless the cleanup already removed every version).
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key=doomed)
    listing = s3.list_object_versions(Bucket=bucket, Prefix=doomed)
    markers = [marker["VersionId"] for marker in listing.get("DeleteMarkers", [])]
    assert items[doomed]["delete_marker"] in markers or not listing.get("Versions")
    # Nothing else was touched.
    after = {key: s3.list_object_versions(Bucket=bucket, Prefix=key) for key in (kept, outside, missing)}
    assert {key: after[key]["Versions"] for key in before} == before
    assert not any(listing.get("DeleteMarkers") for listing in after.values())
    kept_record = records.get(kept)
    assert kept_record is not None and kept_record.status == "LABELED"

    text = labeler("delete", doomed)  # deleted already: its current version is a delete marker
    assert text.exit_code == 2 and "no such object" in text.stdout


def test_delete_wait_follows_the_cleanup_and_list_hides_the_tombstone(
    labeler: Labeler, tmp_path: Path, owner: str, records: Records
) -> None:
    uploaded = output(
        labeler("upload", str(photos(tmp_path / "in", 1)), "--owner", owner, "--wait", "--json")
    )
    key = uploaded[0]["key"]

    result = labeler("delete", key, "--wait", "--timeout", "60", "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    item = output(result)["items"][0]
    assert item["cleaned_up"] is True and item["status_after"] in (None, "DELETED")
    record = records.get(key)
    assert record is None or record.status == "DELETED"
    assert output(labeler("list", "--owner", owner, "--json")) == []
    if record is not None:
        tombstones = output(labeler("list", "--owner", owner, "--status", "DELETED", "--json"))
        assert [tombstone["key"] for tombstone in tombstones] == [key]
        shown = labeler("status", key)
        assert shown.exit_code == 2 and "was deleted" in shown.stdout
