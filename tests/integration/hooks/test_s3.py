"""Contract tests for labeler_tools.local.hooks.s3: a moto upgrade that moves S3's EventBridge delivery
fails here."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import requests

from labeler_tools.deployment import LocalResources
from labeler_tools.local.server import LocalAws

pytestmark = pytest.mark.integration


def test_s3_still_delivers_eventbridge_events_through_the_function_we_replace(local_aws: LocalAws) -> None:
    from moto.s3 import notifications

    assert "_send_event_bridge_message(account_id, bucket, event_name, key)" in inspect.getsource(
        notifications.send_event
    )
    assert notifications._send_event_bridge_message.__module__ == "labeler_tools.local.hooks.s3"


def test_only_put_object_tagging_raises_object_tags_added(
    local_aws: LocalAws, stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.events.models import Rule

    delivered: list[str] = []
    deliver = Rule.send_to_targets

    def recording(rule: Rule, event: Any, **options: Any) -> None:
        delivered.append(event["detail-type"])
        deliver(rule, event, **options)

    monkeypatch.setattr(Rule, "send_to_targets", recording)
    s3 = local_aws.session().client("s3")
    rules = len(local_aws.session().client("events").list_rules()["Rules"])
    key = "outside-uploads/tags.txt"  # matches no rule's pattern: no execution starts

    s3.put_object(Bucket=stack.upload_bucket, Key=key, Body=b"x", Tagging="source=test")
    s3.copy_object(
        Bucket=stack.upload_bucket, Key=key + ".copy", CopySource={"Bucket": stack.upload_bucket, "Key": key}
    )
    assert delivered == ["Object Created"] * 2 * rules
    s3.put_object_tagging(
        Bucket=stack.upload_bucket, Key=key, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
    )
    assert delivered[2 * rules :] == ["Object Tags Added"] * rules


def test_a_creation_event_is_sent_once_the_object_has_its_metadata(
    local_aws: LocalAws, stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto sends it from inside PutObject, before the request's metadata is set: a pipeline started
    by it could read the object without its file name (a browser upload's as well as the CLI's)."""
    from moto.events.models import Rule
    from moto.s3.models import s3_backends

    bucket = s3_backends[stack.account]["aws"].get_bucket(stack.upload_bucket)
    seen: dict[str, dict[str, str]] = {}
    deliver = Rule.send_to_targets

    def recording(rule: Rule, event: Any, **options: Any) -> None:
        key = event["detail"]["object"]["key"]
        if event["detail-type"] == "Object Created":
            seen[key] = dict(bucket.keys[key].metadata)
        deliver(rule, event, **options)

    monkeypatch.setattr(Rule, "send_to_targets", recording)
    s3 = local_aws.session().client("s3")
    meta = {"original-name": "holiday.jpg"}
    s3.put_object(Bucket=stack.upload_bucket, Key="outside-uploads/put.jpg", Body=b"x", Metadata=meta)
    s3.copy_object(
        Bucket=stack.upload_bucket,
        Key="outside-uploads/copy.jpg",
        CopySource={"Bucket": stack.upload_bucket, "Key": "outside-uploads/put.jpg"},
        Metadata={"original-name": "copy.jpg"},
        MetadataDirective="REPLACE",
    )
    post = s3.generate_presigned_post(
        stack.upload_bucket, "outside-uploads/post.jpg", Fields={"x-amz-meta-original-name": "posted.jpg"}
    )
    answer = requests.post(
        f"{local_aws.endpoint_url}/{stack.upload_bucket}",
        data=post["fields"],
        files={"file": ("post.jpg", b"x")},
        timeout=10,
    )
    assert answer.status_code == 204, answer.text

    assert {key: value.get("x-amz-meta-original-name") for key, value in seen.items()} == {
        "outside-uploads/put.jpg": "holiday.jpg",
        "outside-uploads/copy.jpg": "copy.jpg",
        "outside-uploads/post.jpg": "posted.jpg",
    }
