from __future__ import annotations

import pytest

from labeler.events import (
    ObjectDeletedEvent,
    UploadEvent,
    build_object_created_event,
    build_object_deleted_event,
    decode_event_key,
    encode_event_key,
    execution_input,
    normalize_sequencer,
)
from labeler.models import DeletionType

# As published in the S3 user guide ("EventBridge event message structure"), key URL-encoded.
AWS_EXAMPLE = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "111122223333",
    "time": "2021-11-12T00:00:00Z",
    "region": "ca-central-1",
    "resources": ["arn:aws:s3:::amzn-s3-demo-bucket1"],
    "detail": {
        "version": "0",
        "bucket": {"name": "amzn-s3-demo-bucket1"},
        "object": {
            "key": "uploads/us-east-1%3Aabc/red+flower+%2B+%25+caf%C3%A9.jpg",
            "size": 5,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "sequencer": "617f08299329d189",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "1.2.3.4",
        "reason": "PutObject",
    },
}


def test_aws_shaped_event_maps_to_the_object_with_its_key_decoded_once() -> None:
    ref = UploadEvent.model_validate(AWS_EXAMPLE).object_ref()
    assert ref.key == "uploads/us-east-1:abc/red flower + % café.jpg"
    assert ref.owner == "us-east-1:abc"
    assert ref.bucket == "amzn-s3-demo-bucket1"
    assert ref.version_id == "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"
    assert ref.etag == "b1946ac92492d2347c6235b4d2611184"
    assert ref.request_id == "N4N7GDK58NMKJ12R"


@pytest.mark.parametrize(
    "key",
    [
        "uploads/o/plain.jpg",
        "uploads/o/with space.jpg",
        "uploads/o/a+b.jpg",
        "uploads/o/100%.png",
        "uploads/o/日本語 ü.jpg",
        "uploads/o/%2B literally.jpg",
        "uploads/o/" + "x" * 900 + ".jpg",
    ],
)
def test_keys_survive_the_round_trip_through_an_event(key: str) -> None:
    event = build_object_created_event(bucket="b", key=key, size=1, etag='"e"', sequencer="01")
    assert " " not in event["detail"]["object"]["key"]
    assert UploadEvent.model_validate(event).object_ref().key == key


def test_percent_twenty_and_plus_both_decode_to_space() -> None:
    assert decode_event_key("a%20b+c") == "a b c"
    assert encode_event_key("a b+c/d") == "a+b%2Bc/d"


@pytest.mark.parametrize(
    ("key", "owner"),
    [
        ("uploads/alice/x.jpg", "alice"),
        ("uploads/alice/", None),
        ("uploads//x.jpg", None),
        ("other/alice/x.jpg", None),
        ("uploads/alice", None),
        ("uploads/a/b/c.jpg", "a"),
    ],
)
def test_owner_is_the_second_key_segment_under_uploads(key: str, owner: str | None) -> None:
    event = build_object_created_event(bucket="b", key=key, size=1, etag="e", sequencer="01")
    assert UploadEvent.model_validate(event).object_ref().owner == owner


def test_sequencers_of_different_lengths_order_as_s3_documents() -> None:
    # S3: right-pad the shorter value with zeros, then compare lexicographically.
    assert normalize_sequencer("0A") > normalize_sequencer("09FFFF")
    assert normalize_sequencer("0064D3901D00059242") < normalize_sequencer("0064D3901D0005924201")
    assert normalize_sequencer("abc") == normalize_sequencer("ABC")
    assert len(normalize_sequencer("1")) == 40


def test_other_detail_types_are_refused() -> None:
    with pytest.raises(ValueError, match="Object Created"):
        UploadEvent.model_validate({**AWS_EXAMPLE, "detail-type": "Object Deleted"})


def test_the_execution_input_keeps_only_what_the_pipeline_needs() -> None:
    slim = execution_input(AWS_EXAMPLE)
    assert slim == {
        "time": "2021-11-12T00:00:00Z",
        "object": {
            "bucket": "amzn-s3-demo-bucket1",
            "key": "uploads/us-east-1%3Aabc/red+flower+%2B+%25+caf%C3%A9.jpg",
            "version_id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "size": 5,
            "sequencer": "617f08299329d189",
            "request_id": "N4N7GDK58NMKJ12R",
        },
    }
    assert execution_input(slim) is slim
    assert (
        UploadEvent.model_validate(slim).object_ref() == UploadEvent.model_validate(AWS_EXAMPLE).object_ref()
    )


@pytest.mark.parametrize("deletion_type", list(DeletionType))
def test_a_deleted_event_names_the_version_and_the_kind_of_deletion(deletion_type: DeletionType) -> None:
    event = build_object_deleted_event(
        bucket="b", key="uploads/o/a b.jpg", sequencer="0B", deletion_type=deletion_type, version_id="m1"
    )
    deletion = ObjectDeletedEvent.model_validate(event).deletion()
    assert (deletion.key, deletion.owner, deletion.version_id, deletion.deletion_type) == (
        "uploads/o/a b.jpg",
        "o",
        "m1",
        deletion_type,
    )
    assert deletion.sequencer == "0B".ljust(40, "0")


def test_an_empty_object_keeps_its_size_of_zero_in_the_execution_input() -> None:
    event = build_object_created_event(bucket="b", key="uploads/o/e.jpg", size=0, etag="e", sequencer="1")
    slim = execution_input(event)
    assert (slim["object"]["size"], slim["object"]["version_id"]) == (0, "")
    assert UploadEvent.model_validate(slim).object_ref().version_id is None
