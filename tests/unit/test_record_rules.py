"""The rules of the record the pipeline stores, pinned field by field: build_record, tombstone,
iso_timestamp, the item mapping of the results table, and the DynamoDB answers moto cannot give
(throttling codes, UnprocessedKeys) through small stub clients."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from labeler.aws import results
from labeler.aws.results import (
    ResultsRepository,
    item_fields,
    item_to_record,
    record_to_item,
)
from labeler.errors import StorageThrottled
from labeler.events import PipelineState, build_object_created_event, normalize_sequencer
from labeler.models import (
    UNOWNED,
    BoundingBox,
    Deletion,
    DeletionType,
    ExecutionRef,
    ImageFormat,
    ImageInfo,
    ImageStatus,
    Instance,
    Label,
    LabelResult,
    ResultRecord,
    Stage,
    Timings,
)
from labeler.pipeline import (
    EXECUTION_STOPPED,
    build_record,
    iso_timestamp,
    released_claim,
    tombstone,
    utc_now_iso,
)

EXECUTION = ExecutionRef(id="arn:aws:states:us-east-1:1:execution:sm:run-1", name="run-1")
UPLOADED = datetime(2030, 1, 1, 0, 0, 0, tzinfo=UTC)
#: 1234.567 ms after the upload: stored rounded to 0.1 ms.
NOW = "2030-01-01T00:00:01.234567Z"
EVENT_SIZE = 1234
#: What validate's GET said the object's size is (the event's size can be stale or wrong).
READ_SIZE = 987654
KEY = "uploads/alice/a b.jpg"
SEQUENCER = normalize_sequencer("0A")


def _event(key: str = KEY) -> dict[str, Any]:
    return build_object_created_event(
        bucket="photos",
        key=key,
        size=EVENT_SIZE,
        etag='"etag1"',
        version_id="v1",
        sequencer="0A",
        request_id="REQ1",
        time=UPLOADED,
    )


def _state(key: str = KEY, **extra: object) -> PipelineState:
    return PipelineState.model_validate({**_event(key), **extra})


def _image(key: str = KEY) -> dict[str, Any]:
    ref = _state(key).object_ref().model_copy(update={"size": READ_SIZE})
    info = ImageInfo(
        object=ref,
        format=ImageFormat.PNG,
        width=640,
        height=480,
        validate_ms=3.5,
        original_name="Café.png",
    )
    return info.model_dump(mode="json")


CAT = Label(
    name="Cat",
    confidence=97.5,
    parents=["Animal"],
    instances=[
        Instance(bounding_box=BoundingBox(width=0.5, height=0.25, left=0.125, top=0.0), confidence=90)
    ],
)


def _labels() -> dict[str, Any]:
    result = LabelResult(labels=[CAT], label_model_version="3.0", backend="rekognition", label_ms=12.25)
    return result.model_dump(mode="json")


def _lambda_cause(error_type: str, message: str) -> str:
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "stackTrace": ['  File "/var/task/handler.py"']}
    )


def _expected(**fields: Any) -> ResultRecord:
    """The record of the test upload, without what validate and label add."""
    base: dict[str, Any] = {
        "owner": "alice",
        "image_name": KEY,
        "bucket": "photos",
        "timestamp": NOW,
        "uploaded_at": "2030-01-01T00:00:00.000Z",
        "size": EVENT_SIZE,
        "etag": "etag1",
        "version_id": "v1",
        "sequencer": SEQUENCER,
        "execution_id": EXECUTION.id,
        "timings": Timings(end_to_end_ms=1234.6),
    }
    return ResultRecord.model_validate({**base, **fields})


# --- build_record ---------------------------------------------------------------------------------


def test_a_labeled_record_holds_the_read_size_what_validate_learned_the_labels_and_every_timing() -> None:
    record = build_record(_state(image=_image(), labels=_labels()), EXECUTION, NOW)

    assert record == _expected(
        status=ImageStatus.LABELED,
        size=READ_SIZE,
        format=ImageFormat.PNG,
        original_name="Café.png",
        width=640,
        height=480,
        labels=[CAT],
        label_model_version="3.0",
        label_backend="rekognition",
        timings=Timings(validate_ms=3.5, label_ms=12.25, end_to_end_ms=1234.6),
    )


def test_a_backfilled_record_names_its_run_and_settings_and_times_from_the_plan_not_the_upload() -> None:
    planned = datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC)  # 234.567 ms before NOW; uploaded a second earlier
    labels = {**_labels(), "label_settings": "rekognition max_labels=10 min_confidence=70"}
    backfill = {"run": "library-1", "planned_at": planned.isoformat()}

    record = build_record(_state(image=_image(), labels=labels, backfill=backfill), EXECUTION, NOW)

    assert (record.backfill_run, record.label_settings) == (
        "library-1",
        "rekognition max_labels=10 min_confidence=70",
    )
    assert record.uploaded_at == "2030-01-01T00:00:00.000Z"
    assert record.timings.end_to_end_ms == 234.6


def test_a_rejection_in_validate_splits_code_and_reason_and_keeps_the_event_size() -> None:
    message = "TOO_SMALL: The image is 50x50 px; each side must be at least 80 px."
    cause = _lambda_cause("ImageRejected", message)
    state = _state(error={"Error": "ImageRejected", "Cause": cause}, failed_state="Validate")

    record = build_record(state, EXECUTION, NOW)

    assert record == _expected(
        status=ImageStatus.REJECTED,
        error_code="TOO_SMALL",
        reason="The image is 50x50 px; each side must be at least 80 px.",
        error="ImageRejected",
        cause=json.dumps({"errorMessage": message, "errorType": "ImageRejected"}),  # no stack trace
        failed_state="Validate",
    )


def test_a_rejection_in_label_keeps_what_validate_learned() -> None:
    message = "UNREADABLE_IMAGE: Rekognition refused the image."
    state = _state(image=_image(), error={"Error": "ImageRejected", "Cause": message}, failed_state="Label")

    record = build_record(state, EXECUTION, NOW)

    assert record == _expected(
        status=ImageStatus.REJECTED,
        size=READ_SIZE,
        format=ImageFormat.PNG,
        original_name="Café.png",
        width=640,
        height=480,
        timings=Timings(validate_ms=3.5, end_to_end_ms=1234.6),
        error_code="UNREADABLE_IMAGE",
        reason="Rekognition refused the image.",
        error="ImageRejected",
        cause=message,
        failed_state="Label",
    )


def test_a_failure_is_coded_by_the_error_name_with_the_lambda_message_as_reason() -> None:
    cause = _lambda_cause("StorageThrottled", "DynamoDB answered ThrottlingException")
    state = _state(image=_image(), error={"Error": "StorageThrottled", "Cause": cause}, failed_state="Label")

    record = build_record(state, EXECUTION, NOW)

    assert (record.status, record.error_code, record.reason, record.error, record.failed_state) == (
        ImageStatus.FAILED,
        "StorageThrottled",
        "DynamoDB answered ThrottlingException",
        "StorageThrottled",
        "Label",
    )
    assert record.cause == json.dumps(
        {"errorMessage": "DynamoDB answered ThrottlingException", "errorType": "StorageThrottled"}
    )
    assert record.size == READ_SIZE


def test_a_states_error_without_a_lambda_payload_is_its_own_reason() -> None:
    state = _state(error={"Error": "States.Timeout", "Cause": "Task timed out"}, failed_state="Label")

    record = build_record(state, EXECUTION, NOW)

    assert record == _expected(
        status=ImageStatus.FAILED,
        error_code="States.Timeout",
        reason="Task timed out",
        error="States.Timeout",
        cause="Task timed out",
        failed_state="Label",
    )


def test_a_rejection_message_without_a_code_is_coded_unknown() -> None:
    state = _state(error={"Error": "ImageRejected", "Cause": "no code here"}, failed_state="Validate")

    record = build_record(state, EXECUTION, NOW)

    assert (record.status, record.error_code, record.reason) == (
        ImageStatus.REJECTED,
        "UNKNOWN",
        "no code here",
    )


def test_the_cause_is_cut_at_4000_characters_but_the_reason_is_not() -> None:
    long = "x" * 4500
    state = _state(error={"Error": "States.Runtime", "Cause": long}, failed_state="Store")

    record = build_record(state, EXECUTION, NOW)

    assert record.cause == "x" * 4000
    assert record.reason == long


def test_a_key_outside_uploads_is_recorded_under_the_unowned_owner() -> None:
    message = "INVALID_KEY: The key 'elsewhere/a.jpg' is not of the form uploads/<owner>/<name>."
    state = _state("elsewhere/a.jpg", error={"Error": "ImageRejected", "Cause": message})

    record = build_record(state, EXECUTION, NOW)

    assert (record.owner, record.image_name, record.error_code, record.failed_state) == (
        UNOWNED,
        "elsewhere/a.jpg",
        "INVALID_KEY",
        None,
    )


@pytest.mark.parametrize(
    ("now", "end_to_end_ms"),
    [
        ("2030-01-01T00:00:00.000Z", 0.0),
        ("2030-01-01T00:00:00.00004Z", 0.0),  # 0.04 ms rounds to 0.0
        ("2030-01-01T00:00:00.00006Z", 0.1),
        ("2030-01-01T00:00:02.5Z", 2500.0),
        ("2030-01-01T01:00:00.000Z", 3_600_000.0),
        ("2030-01-01T00:00:01.234567+00:00", 1234.6),
        ("2030-01-01T02:00:01.234567+02:00", 1234.6),  # the same moment, another offset
    ],
)
def test_end_to_end_is_milliseconds_since_the_upload_rounded_to_a_tenth(
    now: str, end_to_end_ms: float
) -> None:
    record = build_record(_state(image=_image(), labels=_labels()), EXECUTION, now)
    assert record.timings.end_to_end_ms == end_to_end_ms


@pytest.mark.parametrize("now", ["2029-12-31T23:59:59.000Z", "2029-12-31T23:59:59.9999Z"])
def test_end_to_end_is_zero_when_the_clock_went_backwards(now: str) -> None:
    record = build_record(_state(image=_image(), labels=_labels()), EXECUTION, now)
    assert record.timings.end_to_end_ms == 0.0


# --- timestamps -----------------------------------------------------------------------------------


@pytest.fixture
def local_time_not_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is five and a half hours east of UTC while the test runs."""
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("local_time_not_utc")
@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "2030-01-02T03:04:05.678Z"),
        (datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC), "2030-01-02T03:04:05.000Z"),
        (
            datetime(2030, 1, 2, 1, 4, 5, 678000, tzinfo=timezone(timedelta(hours=-2))),
            "2030-01-02T03:04:05.678Z",
        ),
        (
            datetime(2030, 1, 2, 8, 34, 5, 678000, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2030-01-02T03:04:05.678Z",
        ),
    ],
)
def test_iso_timestamp_is_utc_with_milliseconds_and_a_z(moment: datetime, text: str) -> None:
    assert iso_timestamp(moment) == text


@pytest.mark.usefixtures("local_time_not_utc")
def test_the_current_time_is_written_in_the_same_format() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    text = utc_now_iso()
    after = datetime.now(UTC)

    assert len(text) == len("2030-01-02T03:04:05.678Z") and text.endswith("Z")
    assert before <= datetime.fromisoformat(text) <= after


# --- tombstone ------------------------------------------------------------------------------------

DELETED_AT = datetime(2030, 1, 1, 0, 5, 0, 250000, tzinfo=UTC)


def _deletion(key: str = KEY) -> Deletion:
    return Deletion(
        bucket="photos",
        key=key,
        version_id="marker-1",
        sequencer=normalize_sequencer("0B"),
        deletion_type=DeletionType.DELETE_MARKER_CREATED,
        request_id="REQ2",
        time=datetime(2030, 1, 1, 0, 4, 59, 999000, tzinfo=UTC),
    )


def test_a_tombstone_names_the_deleted_version_and_expires_a_day_later() -> None:
    assert tombstone(_deletion(), DELETED_AT) == ResultRecord(
        owner="alice",
        image_name=KEY,
        bucket="photos",
        status=ImageStatus.DELETED,
        timestamp="2030-01-01T00:05:00.250Z",
        uploaded_at="2030-01-01T00:04:59.999Z",
        size=0,
        etag="",
        version_id="marker-1",
        sequencer=normalize_sequencer("0B"),
        execution_id="",
        expires_at=1893542700,  # 2030-01-02T00:05:00Z, in epoch seconds
    )


def test_a_tombstone_of_a_key_outside_uploads_is_unowned() -> None:
    assert tombstone(_deletion("elsewhere/a.jpg"), DELETED_AT).owner == UNOWNED


# --- released claims -------------------------------------------------------------------------------


def test_a_released_claim_is_a_failure_of_the_same_version_and_execution_now() -> None:
    claim = _expected(
        status=ImageStatus.PROCESSING,
        stage=Stage.LABELING,
        original_name="Café.png",
        size=READ_SIZE,
        backfill_run="library-1",
    )
    released = released_claim(claim, "its execution was aborted", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))

    assert released == claim.model_copy(
        update={
            "status": ImageStatus.FAILED,
            "stage": None,
            "timestamp": "2030-01-02T03:04:05.000Z",
            "error_code": EXECUTION_STOPPED,
            "error": EXECUTION_STOPPED,
            "reason": "its execution was aborted",
        }
    )
    assert EXECUTION_STOPPED == "ExecutionStopped"


# --- the results table's items ----------------------------------------------------------------------

STORED = ResultRecord(
    owner="alice",
    image_name="uploads/alice/a.jpg",
    bucket="photos",
    status=ImageStatus.LABELED,
    timestamp="2030-01-01T00:00:01.234Z",
    uploaded_at="2030-01-01T00:00:00.000Z",
    size=2048,
    etag="e1",
    sequencer=SEQUENCER,
    execution_id="arn:run",
    format=ImageFormat.PNG,
    width=640,
    height=480,
    labels=[
        Label(
            name="Cat",
            confidence=97.123456,
            parents=["Animal"],
            instances=[
                Instance(
                    bounding_box=BoundingBox(width=0.5, height=0.25, left=0.12345, top=0.0),
                    confidence=88.88888,
                )
            ],
        )
    ],
    label_model_version="3.0",
    label_backend="rekognition",
    timings=Timings(validate_ms=3.0, end_to_end_ms=1234.5),
)

STORED_ITEM: dict[str, Any] = {
    "Owner": "alice",
    "ImageName": "uploads/alice/a.jpg",
    "Bucket": "photos",
    "Status": "LABELED",
    "Timestamp": "2030-01-01T00:00:01.234Z",
    "UploadedAt": "2030-01-01T00:00:00.000Z",
    "Size": 2048,
    "ETag": "e1",
    "Sequencer": SEQUENCER,
    "ExecutionId": "arn:run",
    "Format": "PNG",
    "Width": 640,
    "Height": 480,
    "Labels": [
        {
            "Name": "Cat",
            "Confidence": Decimal("97.1235"),
            "Parents": ["Animal"],
            "Aliases": [],
            "Categories": [],
            "Instances": [
                {
                    "BoundingBox": {
                        "Width": Decimal("0.5"),
                        "Height": Decimal("0.25"),
                        "Left": Decimal("0.1235"),
                        "Top": Decimal("0.0"),
                    },
                    "Confidence": Decimal("88.8889"),
                }
            ],
        }
    ],
    "LabelModelVersion": "3.0",
    "LabelBackend": "rekognition",
    "Timings": {"ValidateMs": Decimal("3.0"), "EndToEndMs": Decimal("1234.5")},
}


def _decimal_texts(value: Any) -> Any:
    """Every Decimal as its text, so that 0.1235 and 0.12346 (or 3 and 3.0) differ."""
    if isinstance(value, Decimal):
        return f"Decimal({value})"
    if isinstance(value, dict):
        return {k: _decimal_texts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimal_texts(v) for v in value]
    return value


def test_an_item_has_pascal_case_names_decimals_of_four_places_and_no_empty_attributes() -> None:
    item = record_to_item(STORED)
    assert _decimal_texts(item) == _decimal_texts(STORED_ITEM)
    assert (type(item["Status"]), type(item["Format"])) == (str, str)  # plain values, not the enums


def test_an_item_reads_back_as_the_record_it_was_made_of() -> None:
    assert item_to_record(STORED_ITEM) == STORED.model_copy(
        update={
            "labels": [
                Label(
                    name="Cat",
                    confidence=97.1235,
                    parents=["Animal"],
                    instances=[
                        Instance(
                            bounding_box=BoundingBox(width=0.5, height=0.25, left=0.1235, top=0.0),
                            confidence=88.8889,
                        )
                    ],
                )
            ]
        }
    )


@pytest.mark.parametrize(
    ("status", "failure_status"),
    [
        (ImageStatus.PROCESSING, None),
        (ImageStatus.LABELED, None),
        (ImageStatus.DELETED, None),
        (ImageStatus.REJECTED, "REJECTED"),
        (ImageStatus.FAILED, "FAILED"),
    ],
)
def test_only_failures_carry_the_sparse_failure_index_attribute(
    status: ImageStatus, failure_status: str | None
) -> None:
    record = STORED.model_copy(update={"status": status})
    item = record_to_item(record)

    assert item.get("FailureStatus") == failure_status
    assert item_to_record(item).status is status


def _raw(record: ResultRecord) -> dict[str, Any]:
    """The item as DynamoDB returns it (``{"S": ...}``, ``{"N": ...}``)."""
    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in record_to_item(record).items()}


def test_item_fields_are_snake_case_plain_values_without_the_index_attribute() -> None:
    rejected = STORED.model_copy(
        update={
            "status": ImageStatus.REJECTED,
            "labels": [],
            "error_code": "TOO_SMALL",
            "reason": "small",
            "timings": Timings(validate_ms=3.0, label_ms=2.5, end_to_end_ms=1234.0),
        }
    )
    raw = _raw(rejected)
    assert raw["FailureStatus"] == {"S": "REJECTED"}

    fields = item_fields(raw)

    assert fields == {
        "owner": "alice",
        "image_name": "uploads/alice/a.jpg",
        "bucket": "photos",
        "status": "REJECTED",
        "timestamp": "2030-01-01T00:00:01.234Z",
        "uploaded_at": "2030-01-01T00:00:00.000Z",
        "size": 2048,
        "etag": "e1",
        "sequencer": SEQUENCER,
        "execution_id": "arn:run",
        "format": "PNG",
        "width": 640,
        "height": 480,
        "labels": [],
        "label_model_version": "3.0",
        "label_backend": "rekognition",
        "timings": {"validate_ms": 3.0, "label_ms": 2.5, "end_to_end_ms": 1234.0},
        "error_code": "TOO_SMALL",
        "reason": "small",
    }
    # whole numbers stored as integers come back as int, numbers stored with a point as float
    assert [type(fields[name]) for name in ("size", "width", "height")] == [int, int, int]
    assert [type(value) for value in fields["timings"].values()] == [float, float, float]


def test_item_fields_read_nested_lists_and_numbers_in_exponent_form() -> None:
    raw = {
        "Labels": {"L": [{"M": {"Name": {"S": "Cat"}, "Confidence": {"N": "97"}}}]},
        "ExpiresAt": {"N": "1E+3"},
        "Tiny": {"N": "1E-7"},
    }
    fields = item_fields(raw)
    assert fields == {"labels": [{"name": "Cat", "confidence": 97}], "expires_at": 1000, "tiny": 1e-7}
    assert (type(fields["expires_at"]), type(fields["tiny"])) == (int, float)


# --- DynamoDB answers moto never gives ------------------------------------------------------------


class _ThrottledClient:
    """A DynamoDB client whose PutItem always fails with one error code."""

    def __init__(self, code: str) -> None:
        self.code = code

    def put_item(self, **_params: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": self.code, "Message": "slow down"}}, "PutItem")


@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    ],
)
def test_throttling_and_server_errors_of_a_write_are_storage_throttled(code: str) -> None:
    repository = ResultsRepository(_ThrottledClient(code), "results")  # type: ignore[arg-type]

    with pytest.raises(StorageThrottled) as raised:
        repository.put_if_newer(STORED)

    assert str(raised.value) == f"DynamoDB answered {code}"
    assert isinstance(raised.value.__cause__, ClientError)


def test_an_error_answer_without_a_code_is_raised_as_it_is() -> None:
    class Codeless:
        def put_item(self, **_params: Any) -> dict[str, Any]:
            raise ClientError({}, "PutItem")

    with pytest.raises(ClientError):
        ResultsRepository(Codeless(), "results").put_if_newer(STORED)  # type: ignore[arg-type]


def _key(name: str) -> dict[str, Any]:
    return {"Owner": {"S": "alice"}, "ImageName": {"S": name}}


def _found(name: str) -> dict[str, Any]:
    return {**_key(name), "Status": {"S": "LABELED"}, "Timestamp": {"S": f"t-{name}"}}


class _UnprocessingClient:
    """BatchGetItem that leaves every key unprocessed for ``rounds`` calls, as a throttled table does,
    then answers; each answer is shaped by ``shapes`` (the first call's first)."""

    def __init__(self, stored: set[str], rounds: int) -> None:
        self.stored, self.rounds = stored, rounds
        self.requests: list[dict[str, Any]] = []

    def batch_get_item(self, *, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(RequestItems)
        (table, request), *_ = RequestItems.items()
        names = [key["ImageName"]["S"] for key in request["Keys"]]
        if len(self.requests) <= self.rounds:
            unprocessed = {table: {**request, "Keys": request["Keys"]}}
            shapes: list[dict[str, Any]] = [{}, {"Responses": {}}, {"Responses": {table: []}}]
            return {**shapes[min(len(self.requests) - 1, 2)], "UnprocessedKeys": unprocessed}
        return {"Responses": {table: [_found(name) for name in names if name in self.stored]}}


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses statuses() takes, instead of taking them."""
    taken: list[float] = []
    monkeypatch.setattr(results, "time", SimpleNamespace(sleep=taken.append))
    return taken


def test_unprocessed_keys_are_asked_again_after_pauses_doubling_from_a_tenth_up_to_two_seconds(
    pauses: list[float],
) -> None:
    client = _UnprocessingClient(stored={"a.jpg", "b.jpg"}, rounds=7)
    repository = ResultsRepository(client, "results")  # type: ignore[arg-type]

    found = repository.statuses([("alice", "a.jpg"), ("alice", "absent.jpg"), ("alice", "b.jpg")])

    assert found == {
        ("alice", "a.jpg"): (ImageStatus.LABELED, "t-a.jpg"),
        ("alice", "b.jpg"): (ImageStatus.LABELED, "t-b.jpg"),
    }
    assert pauses == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0])
    expected_request = {
        "results": {
            "Keys": [_key("a.jpg"), _key("absent.jpg"), _key("b.jpg")],
            "ConsistentRead": True,
            "ProjectionExpression": "#a0, #a1, #a2, #a3",
            "ExpressionAttributeNames": {
                "#a0": "Owner",
                "#a1": "ImageName",
                "#a2": "Status",
                "#a3": "Timestamp",
            },
        }
    }
    assert client.requests == [expected_request] * 8


class _HalfProcessingClient:
    """BatchGetItem whose first answer leaves the second half of the keys unprocessed."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def batch_get_item(self, *, RequestItems: dict[str, Any]) -> dict[str, Any]:
        (table, request), *_ = RequestItems.items()
        names = [key["ImageName"]["S"] for key in request["Keys"]]
        self.asked.append(names)
        done, left = (
            (names[: len(names) // 2], names[len(names) // 2 :]) if len(self.asked) == 1 else (names, [])
        )
        answer: dict[str, Any] = {"Responses": {table: [_found(name) for name in done]}}
        if left:
            answer["UnprocessedKeys"] = {table: {"Keys": [_key(name) for name in left]}}
        return answer


def test_unprocessed_keys_are_asked_again_after_the_keys_not_yet_asked(pauses: list[float]) -> None:
    client = _HalfProcessingClient()
    names = [f"{index:03}.jpg" for index in range(150)]

    found = ResultsRepository(client, "results").statuses(  # type: ignore[arg-type]
        [("alice", name) for name in names]
    )

    assert found == {("alice", name): (ImageStatus.LABELED, f"t-{name}") for name in names}
    assert client.asked == [names[:100], names[100:] + names[50:100]]  # at most 100 keys per request
    assert pauses == pytest.approx([0.1])


def test_no_keys_ask_nothing(pauses: list[float]) -> None:
    client = _HalfProcessingClient()
    assert ResultsRepository(client, "results").statuses([]) == {}  # type: ignore[arg-type]
    assert (client.asked, pauses) == ([], [])
