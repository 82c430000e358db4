"""The rules of ``labeler.events`` pinned one by one (issue #15): how an S3 event is built, slimmed into the
execution input and mapped onto the domain models, with exact values so that changing a rule fails a test."""

from __future__ import annotations

import os
import re
import time as clock
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from labeler.blueprint import UPLOAD_INPUT_PATHS
from labeler.events import (
    DOTTED_PATH,
    ObjectDeletedEvent,
    PipelineState,
    UploadedObject,
    UploadEvent,
    build_object_created_event,
    build_object_deleted_event,
    build_s3_event,
    decode_event_key,
    encode_event_key,
    execution_input,
    normalize_sequencer,
    transform_input,
)
from labeler.models import Deletion, DeletionType, ImageFormat, ImageInfo, ObjectRef, TaskError

WHEN = datetime(2024, 3, 5, 7, 8, 9, 123456, tzinfo=UTC)
WHEN_TEXT = "2024-03-05T07:08:09Z"
EVENT_ID = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")
REQUEST_UUID = uuid.UUID("abcdef01-2345-6789-abcd-ef0123456789")
ZEROS = "0" * 40


@pytest.fixture
def fixed_uuids(monkeypatch: pytest.MonkeyPatch) -> None:
    """uuid4() returns EVENT_ID, then REQUEST_UUID, then fails: the builders call it at most twice."""
    values: Iterator[uuid.UUID] = iter([EVENT_ID, REQUEST_UUID])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(values))


def slim_input(**obj: Any) -> dict[str, Any]:
    """An execution input as the upload rule passes it, with ``obj`` as its object."""
    return {"time": WHEN_TEXT, "object": {"bucket": "photos", "key": "uploads/o/a.jpg", **obj}}


# --- UploadEvent.object_ref -------------------------------------------------------------------------


def test_the_object_ref_carries_every_field_of_the_event() -> None:
    event = build_object_created_event(
        bucket="photos",
        key="uploads/o/red flower.jpg",
        size=1234,
        etag='"d41d8cd98f00b204e9800998ecf8427e"',
        sequencer="617f08299329d189",
        version_id="v-1",
        request_id="REQ0000000000001",
        time=WHEN,
    )
    assert UploadEvent.model_validate(event).object_ref() == ObjectRef(
        bucket="photos",
        key="uploads/o/red flower.jpg",
        version_id="v-1",
        etag="d41d8cd98f00b204e9800998ecf8427e",
        size=1234,
        sequencer="617F08299329D189" + "0" * 24,
        request_id="REQ0000000000001",
    )


@pytest.mark.parametrize(
    ("etag", "stripped"),
    [
        ('"abc"', "abc"),
        ("abc", "abc"),
        ('"d41d8cd98f00b204e9800998ecf8427e-2"', "d41d8cd98f00b204e9800998ecf8427e-2"),
        (' "abc" ', ' "abc" '),
        ('"XabcX"', "XabcX"),
    ],
)
def test_only_the_double_quotes_around_an_etag_are_stripped(etag: str, stripped: str) -> None:
    ref = UploadEvent.model_validate(slim_input(etag=etag)).object_ref()
    assert ref.etag == stripped


@pytest.mark.parametrize(
    ("version_id", "expected"),
    [("null", None), ("", None), (None, None), ("v1", "v1"), ("NULL", "NULL"), ("nullish", "nullish")],
)
def test_a_version_id_of_null_or_empty_means_unversioned(
    version_id: str | None, expected: str | None
) -> None:
    ref = UploadEvent.model_validate(slim_input(version_id=version_id)).object_ref()
    assert ref.version_id == expected


def test_an_object_without_optional_fields_gets_the_documented_defaults() -> None:
    ref = UploadEvent.model_validate(slim_input()).object_ref()
    assert ref == ObjectRef(
        bucket="photos",
        key="uploads/o/a.jpg",
        version_id=None,
        etag="",
        size=0,
        sequencer=ZEROS,
        request_id="",
    )


def test_the_object_ref_decodes_the_key_exactly_once() -> None:
    ref = UploadEvent.model_validate(slim_input(key="uploads/o/a%2Bb+c%2520.jpg")).object_ref()
    assert ref.key == "uploads/o/a+b c%20.jpg"


# --- normalize_sequencer ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sequencer", "normalized"),
    [
        (None, ZEROS),
        ("", ZEROS),
        ("1", "1" + "0" * 39),
        ("10", "10" + "0" * 38),
        ("abc", "ABC" + "0" * 37),
        ("0064d3901d00059242", "0064D3901D00059242" + "0" * 22),
        ("f" * 40, "F" * 40),
        ("a" * 41, "A" * 41),
        ("0a" * 30, "0A" * 30),
    ],
)
def test_sequencers_are_upper_cased_and_right_padded_with_zeros_to_40(
    sequencer: str | None, normalized: str
) -> None:
    assert normalize_sequencer(sequencer) == normalized


def test_sequencers_that_differ_only_in_trailing_zeros_are_the_same_position() -> None:
    # S3: right-pad the shorter value with zeros, then compare. Padding with anything but zeros
    # (spaces, say) would make "1" sort before "10" although S3 says they are equal.
    assert normalize_sequencer("1") == normalize_sequencer("10") == normalize_sequencer("1" + "0" * 39)
    assert normalize_sequencer("1") < normalize_sequencer("11")
    assert normalize_sequencer("0F") > normalize_sequencer("0EFFFF")


def test_the_object_ref_normalizes_the_sequencer() -> None:
    ref = UploadEvent.model_validate(slim_input(sequencer="0a")).object_ref()
    assert ref.sequencer == "0A" + "0" * 38


# --- build_s3_event and the two builders ------------------------------------------------------------


@pytest.mark.usefixtures("fixed_uuids")
def test_a_created_event_is_built_field_by_field_with_the_documented_defaults() -> None:
    event = build_object_created_event(
        bucket="photos", key="uploads/o/red flower.jpg", size=7, etag='"e1"', sequencer="0A", time=WHEN
    )
    assert event == {
        "version": "0",
        "id": "12345678-9abc-def0-1234-56789abcdef0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": WHEN_TEXT,
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::photos"],
        "detail": {
            "version": "0",
            "bucket": {"name": "photos"},
            "object": {"key": "uploads/o/red+flower.jpg", "size": 7, "etag": "e1", "sequencer": "0A"},
            "request-id": "ABCDEF0123456789",
            "requester": "123456789012",
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }


def test_a_created_event_uses_what_it_is_given() -> None:
    event = build_object_created_event(
        bucket="b2",
        key="uploads/o/x.jpg",
        size=3,
        etag="e",
        sequencer="01",
        version_id="v9",
        request_id="R1",
        region="eu-west-3",
        account="999988887777",
        time=WHEN,
        reason="CompleteMultipartUpload",
    )
    assert (event["account"], event["region"], event["resources"]) == (
        "999988887777",
        "eu-west-3",
        ["arn:aws:s3:::b2"],
    )
    assert event["detail"]["object"] == {
        "key": "uploads/o/x.jpg",
        "size": 3,
        "etag": "e",
        "sequencer": "01",
        "version-id": "v9",
    }
    assert (event["detail"]["request-id"], event["detail"]["requester"], event["detail"]["reason"]) == (
        "R1",
        "999988887777",
        "CompleteMultipartUpload",
    )


@pytest.mark.parametrize(("etag", "stripped"), [('"abc"', "abc"), (' "a" ', ' "a" '), ('"XaX"', "XaX")])
def test_a_created_event_strips_only_the_quotes_of_the_etag(etag: str, stripped: str) -> None:
    event = build_object_created_event(bucket="b", key="k", size=1, etag=etag, sequencer="01")
    assert event["detail"]["object"]["etag"] == stripped


@pytest.mark.parametrize("version_id", [None, ""])
def test_a_created_event_names_a_version_only_when_given_one(version_id: str | None) -> None:
    event = build_object_created_event(
        bucket="b", key="k", size=1, etag="e", sequencer="01", version_id=version_id
    )
    assert "version-id" not in event["detail"]["object"]


@pytest.mark.usefixtures("fixed_uuids")
@pytest.mark.parametrize("deletion_type", list(DeletionType))
def test_a_deleted_event_is_built_field_by_field_with_the_documented_defaults(
    deletion_type: DeletionType,
) -> None:
    event = build_object_deleted_event(
        bucket="photos", key="uploads/o/a b.jpg", sequencer="0b", deletion_type=deletion_type, time=WHEN
    )
    assert event == {
        "version": "0",
        "id": "12345678-9abc-def0-1234-56789abcdef0",
        "detail-type": "Object Deleted",
        "source": "aws.s3",
        "account": "123456789012",
        "time": WHEN_TEXT,
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::photos"],
        "detail": {
            "version": "0",
            "bucket": {"name": "photos"},
            "object": {"key": "uploads/o/a+b.jpg", "sequencer": "0b"},
            "request-id": "ABCDEF0123456789",
            "requester": "123456789012",
            "source-ip-address": "127.0.0.1",
            "reason": "DeleteObject",
            "deletion-type": deletion_type.value,
        },
    }


def test_a_deleted_event_uses_what_it_is_given() -> None:
    event = build_object_deleted_event(
        bucket="b2",
        key="uploads/o/x.jpg",
        sequencer="01",
        deletion_type=DeletionType.PERMANENTLY_DELETED,
        version_id="m1",
        request_id="R2",
        region="ap-south-1",
        account="111122223333",
        time=WHEN,
        reason="DeleteObjects",
    )
    assert (event["account"], event["region"], event["time"]) == ("111122223333", "ap-south-1", WHEN_TEXT)
    assert event["detail"]["object"] == {"key": "uploads/o/x.jpg", "sequencer": "01", "version-id": "m1"}
    assert (event["detail"]["request-id"], event["detail"]["requester"], event["detail"]["reason"]) == (
        "R2",
        "111122223333",
        "DeleteObjects",
    )


@pytest.mark.parametrize("version_id", [None, ""])
def test_a_deleted_event_names_a_version_only_when_given_one(version_id: str | None) -> None:
    event = build_object_deleted_event(
        bucket="b",
        key="k",
        sequencer="01",
        deletion_type=DeletionType.DELETE_MARKER_CREATED,
        version_id=version_id,
    )
    assert "version-id" not in event["detail"]["object"]


def test_any_detail_type_can_be_built_and_the_key_is_url_encoded() -> None:
    event = build_s3_event(
        "Object Restore Completed",
        bucket="b",
        obj={"key": "uploads/o/a b+c.jpg", "size": 1},
        request_id="R3",
        region="us-west-2",
        account="1",
        time=WHEN,
        reason="RestoreObject",
    )
    assert event["detail-type"] == "Object Restore Completed"
    assert event["detail"]["object"] == {"key": "uploads/o/a+b%2Bc.jpg", "size": 1}


def test_without_a_request_id_each_event_gets_sixteen_upper_case_hex_digits() -> None:
    first, second = (
        build_object_created_event(bucket="b", key="k", size=1, etag="e", sequencer="01")["detail"][
            "request-id"
        ]
        for _ in range(2)
    )
    assert re.fullmatch(r"[0-9A-F]{16}", first)
    assert re.fullmatch(r"[0-9A-F]{16}", second)
    assert first != second


def test_each_event_gets_its_own_uuid_as_id() -> None:
    first, second = (
        build_object_created_event(bucket="b", key="k", size=1, etag="e", sequencer="01")["id"]
        for _ in range(2)
    )
    assert str(uuid.UUID(first)) == first
    assert first != second


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime(2024, 3, 5, 7, 8, 9, 999999, tzinfo=UTC), "2024-03-05T07:08:09Z"),
        (datetime(1999, 12, 31, 23, 59, 58, tzinfo=UTC), "1999-12-31T23:59:58Z"),
        (datetime(2024, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))), "2024-01-01T10:00:00Z"),
    ],
)
def test_the_event_time_is_written_to_the_second_with_a_z(when: datetime, text: str) -> None:
    event = build_object_created_event(bucket="b", key="k", size=1, etag="e", sequencer="01", time=when)
    assert event["time"] == text


def test_without_a_time_the_event_time_is_now_in_utc_whatever_the_local_zone() -> None:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "JST-9"  # nine hours ahead of UTC, no tz database needed
    clock.tzset()
    try:
        before = datetime.now(UTC).replace(microsecond=0)
        event = build_object_created_event(bucket="b", key="k", size=1, etag="e", sequencer="01")
        after = datetime.now(UTC)
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        clock.tzset()
    stamped = datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= stamped <= after


# --- transform_input, execution_input -----------------------------------------------------------------


def test_a_path_that_is_missing_becomes_an_empty_string() -> None:
    paths = {"gone": "$.a.missing", "deep": "$.a.b.c", "top": "$.nothing"}
    template = '{"gone": "<gone>", "deep": "<deep>", "top": "<top>"}'
    assert transform_input(paths, template, {"a": {"b": {}}}) == {"gone": "", "deep": "", "top": ""}


@pytest.mark.parametrize("leaf", ["abc", ["b"], 5])
def test_a_path_through_a_value_that_is_not_an_object_is_missing(leaf: Any) -> None:
    assert transform_input({"v": "$.a.b"}, '{"v": "<v>"}', {"a": leaf}) == {"v": ""}


def test_objects_and_lists_are_inserted_as_json_and_scalars_as_text() -> None:
    event = {"d": {"x": 1, "y": [True, None]}, "l": [1, "two"], "n": 42, "s": "text", "f": 1.5}
    paths = {"d": "$.d", "l": "$.l", "n": "$.n", "s": "$.s", "f": "$.f"}
    template = '{"d": <d>, "l": <l>, "n": <n>, "s": "<s>", "f": <f>}'
    assert transform_input(paths, template, event) == {
        "d": {"x": 1, "y": [True, None]},
        "l": [1, "two"],
        "n": 42,
        "s": "text",
        "f": 1.5,
    }


def test_every_occurrence_of_a_placeholder_is_filled_and_names_without_a_path_stay() -> None:
    assert transform_input({"v": "$.v"}, '{"a": "<v>", "b": "<v>-<v>", "c": "<w>"}', {"v": "x"}) == {
        "a": "x",
        "b": "x-x",
        "c": "<w>",
    }


def test_paths_name_nested_members_with_hyphens() -> None:
    event = {"detail": {"request-id": "R", "bucket": {"name": "b"}}, "time": "t"}
    paths = {"r": "$.detail.request-id", "b": "$.detail.bucket.name", "t": "$.time"}
    assert transform_input(paths, '{"r": "<r>", "b": "<b>", "t": "<t>"}', event) == {
        "r": "R",
        "b": "b",
        "t": "t",
    }


def test_the_execution_input_of_a_built_event_is_exactly_the_slim_form() -> None:
    event = build_object_created_event(
        bucket="photos",
        key="uploads/o/a b.jpg",
        size=9,
        etag='"e9"',
        sequencer="0F",
        version_id="v2",
        request_id="R9",
        time=WHEN,
    )
    assert execution_input(event) == {
        "time": WHEN_TEXT,
        "object": {
            "bucket": "photos",
            "key": "uploads/o/a+b.jpg",
            "version_id": "v2",
            "etag": "e9",
            "size": 9,
            "sequencer": "0F",
            "request_id": "R9",
        },
    }


@pytest.mark.parametrize("state", [slim_input(size=1), {"anything": 1}, {}])
def test_an_input_without_detail_is_returned_as_it_is(state: dict[str, Any]) -> None:
    assert execution_input(state) is state


# --- UploadEvent._slim, PipelineState ---------------------------------------------------------------


def test_a_whole_event_is_slimmed_and_the_state_added_next_to_it_is_kept() -> None:
    event = build_object_created_event(
        bucket="photos", key="uploads/o/a.jpg", size=5, etag="e", sequencer="0A", request_id="R", time=WHEN
    )
    state = PipelineState.model_validate(
        {**event, "failed_state": "Validate", "error": {"Error": "Boom", "Cause": "why"}}
    )
    assert state.time == WHEN.replace(microsecond=0)
    assert state.object == UploadedObject(
        bucket="photos",
        key="uploads/o/a.jpg",
        version_id="",
        etag="e",
        size=5,
        sequencer="0A",
        request_id="R",
    )
    assert (state.failed_state, state.error) == ("Validate", TaskError(error="Boom", cause="why"))
    assert (state.image, state.labels) == (None, None)


def test_a_pipeline_state_carries_what_earlier_states_added() -> None:
    ref = UploadEvent.model_validate(slim_input(size=5)).object_ref()
    image = ImageInfo(object=ref, format=ImageFormat.PNG, width=3, height=2)
    state = PipelineState.model_validate({**slim_input(size=5), "image": image.model_dump()})
    assert state.image == image
    assert (state.labels, state.error, state.failed_state) == (None, None, None)
    assert state.object_ref() == ref


@pytest.mark.parametrize(
    ("detail_type", "shown"),
    [("Object Deleted", "'Object Deleted'"), ("object created", "'object created'"), (None, "None")],
)
def test_a_whole_event_of_another_detail_type_is_refused_by_name(detail_type: str | None, shown: str) -> None:
    event = build_object_created_event(bucket="b", key="k", size=1, etag="e", sequencer="01")
    event["detail-type"] = detail_type
    with pytest.raises(ValidationError, match=re.escape(f"not an Object Created event: detail-type {shown}")):
        UploadEvent.model_validate(event)


def test_an_event_without_detail_type_is_refused() -> None:
    event = build_object_created_event(bucket="b", key="k", size=1, etag="e", sequencer="01")
    del event["detail-type"]
    with pytest.raises(ValidationError, match=re.escape("not an Object Created event: detail-type None")):
        UploadEvent.model_validate(event)


# --- ObjectDeletedEvent.deletion --------------------------------------------------------------------


def test_a_deletion_carries_every_field_of_the_event() -> None:
    event = build_object_deleted_event(
        bucket="photos",
        key="uploads/o/a%2B b.jpg",
        sequencer="0b1",
        deletion_type=DeletionType.PERMANENTLY_DELETED,
        version_id="v7",
        request_id="REQDEL",
        time=WHEN,
    )
    assert ObjectDeletedEvent.model_validate(event).deletion() == Deletion(
        bucket="photos",
        key="uploads/o/a%2B b.jpg",
        version_id="v7",
        sequencer="0B1" + "0" * 37,
        deletion_type=DeletionType.PERMANENTLY_DELETED,
        request_id="REQDEL",
        time=WHEN.replace(microsecond=0),
    )


def test_a_deletion_without_a_deletion_type_is_a_delete_marker() -> None:
    event = build_object_deleted_event(
        bucket="b", key="k", sequencer="01", deletion_type=DeletionType.PERMANENTLY_DELETED
    )
    del event["detail"]["deletion-type"]
    assert (
        ObjectDeletedEvent.model_validate(event).deletion().deletion_type
        is DeletionType.DELETE_MARKER_CREATED
    )


@pytest.mark.parametrize(("version_id", "expected"), [("null", None), ("NULL", "NULL"), ("m1", "m1")])
def test_a_deletion_with_a_version_id_of_null_is_unversioned(version_id: str, expected: str | None) -> None:
    event = build_object_deleted_event(
        bucket="b",
        key="k",
        sequencer="01",
        deletion_type=DeletionType.DELETE_MARKER_CREATED,
        version_id=version_id,
    )
    assert ObjectDeletedEvent.model_validate(event).deletion().version_id == expected


def test_a_deletion_without_version_or_sequencer_gets_none_and_zeros() -> None:
    event = build_object_deleted_event(
        bucket="b", key="k", sequencer="01", deletion_type=DeletionType.DELETE_MARKER_CREATED
    )
    del event["detail"]["object"]["sequencer"]
    deletion = ObjectDeletedEvent.model_validate(event).deletion()
    assert (deletion.version_id, deletion.sequencer) == (None, ZEROS)


def test_only_object_deleted_events_are_deletions() -> None:
    event = build_object_created_event(bucket="b", key="k", size=1, etag="e", sequencer="01")
    with pytest.raises(ValidationError, match="detail-type"):
        ObjectDeletedEvent.model_validate(event)


# --- DOTTED_PATH, key coding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["$.time", "$.detail.request-id", "$.a_b.C9", "$.detail.object.version-id", *UPLOAD_INPUT_PATHS.values()],
)
def test_dotted_paths_are_dollar_then_dot_separated_names(path: str) -> None:
    assert DOTTED_PATH.match(path)


@pytest.mark.parametrize(
    "path",
    [
        "$",
        "$.",
        "time",
        ".time",
        "$.a..b",
        "$.a.",
        "$..a",
        "$.a[0]",
        "$['a']",
        "$.a b",
        "$.a.*",
        " $.a",
        "$.a\n",
    ],
)
def test_other_json_paths_are_not_dotted(path: str) -> None:
    assert DOTTED_PATH.match(path) is None


@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        ("uploads/o/a b.jpg", "uploads/o/a+b.jpg"),
        ("uploads/o/a+b.jpg", "uploads/o/a%2Bb.jpg"),
        ("uploads/us-east-1:x/100%.jpg", "uploads/us-east-1%3Ax/100%25.jpg"),
        ("uploads/o/café.jpg", "uploads/o/caf%C3%A9.jpg"),
        ("uploads/o/XyZ~_-.jpg", "uploads/o/XyZ~_-.jpg"),
    ],
)
def test_keys_are_written_as_s3_does_and_read_back_exactly_once(key: str, encoded: str) -> None:
    assert encode_event_key(key) == encoded
    assert decode_event_key(encoded) == key


def test_a_decoded_key_is_not_decoded_again() -> None:
    assert decode_event_key("a%252B+b%20c") == "a%2B b c"


def test_the_event_time_survives_into_the_upload_event() -> None:
    event = build_object_created_event(
        bucket="b", key="k", size=1, etag="e", sequencer="01", time=WHEN + timedelta(days=1)
    )
    assert UploadEvent.model_validate(event).time == datetime(2024, 3, 6, 7, 8, 9, tzinfo=UTC)
