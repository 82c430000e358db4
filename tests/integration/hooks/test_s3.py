"""Contract tests for labeler_tools.local.hooks.s3: a moto upgrade that moves S3's EventBridge delivery
fails here."""

from __future__ import annotations

import html
import inspect
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from labeler_tools.deployment import LocalResources
from labeler_tools.local.hooks import s3 as s3_hooks
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


#: The pre-flight Chromium sends ahead of the page's DeleteObject (some of the SDK's signed headers).
PAGE_ORIGIN = "http://127.0.0.1:8080"
DELETE_PREFLIGHT = {
    "Origin": PAGE_ORIGIN,
    "Access-Control-Request-Method": "DELETE",
    "Access-Control-Request-Headers": "authorization,x-amz-date,x-amz-security-token",
}


def _preflight(local_aws: LocalAws, bucket: str, key: str, headers: dict[str, str]) -> requests.Response:
    """A browser's pre-flight: no credentials, only the CORS request headers."""
    return requests.options(f"{local_aws.endpoint_url}/{bucket}/{key}", headers=headers, timeout=10)


def _cors_headers(answer: requests.Response) -> dict[str, str]:
    return {name: value for name, value in answer.headers.items() if name.startswith("Access-Control-")}


@pytest.fixture
def cors_bucket(local_aws: LocalAws) -> Iterator[str]:
    """A bucket of its own with two CORS rules: the site's uploads, and reads from anywhere."""
    name = f"cors-{uuid.uuid4()}"
    s3 = local_aws.session().client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_cors(
        Bucket=name,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["PUT"],
                    "AllowedOrigins": ["https://site.example"],
                    "AllowedHeaders": ["Content-Type", "x-amz-meta-*"],
                    "MaxAgeSeconds": 60,
                },
                {"AllowedMethods": ["GET", "HEAD"], "AllowedOrigins": ["*"]},
            ]
        },
    )
    s3.put_object(Bucket=name, Key="photo.jpg", Body=b"x")
    yield name
    s3.delete_object(Bucket=name, Key="photo.jpg")
    s3.delete_bucket(Bucket=name)


def test_s3_still_answers_an_objects_preflight_through_the_method_we_wrap(local_aws: LocalAws) -> None:
    from moto.s3.responses import S3Response

    source = inspect.getsource(s3_hooks._ORIGINAL_KEY_RESPONSE)
    assert source.index("key.acl and not key.acl.public_read") < source.index('method == "OPTIONS"')
    assert "self._key_response(request, full_url)" in inspect.getsource(S3Response.key_response)
    assert S3Response._key_response.__wrapped__ is s3_hooks._ORIGINAL_KEY_RESPONSE  # type: ignore[attr-defined]


def test_moto_refuses_the_preflight_of_an_existing_object_and_allows_a_missing_ones(
    local_aws: LocalAws, stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the hook is there: moto checks the object's ACL before it answers OPTIONS, and a pre-flight
    has no credentials. The browser then never sends the page's DeleteObject."""
    from moto.s3.responses import S3Response

    local_aws.session().client("s3").put_object(
        Bucket=stack.upload_bucket, Key="outside-uploads/acl", Body=b"x"
    )
    monkeypatch.setattr(S3Response, "_key_response", s3_hooks._ORIGINAL_KEY_RESPONSE)

    answers = [
        _preflight(local_aws, stack.upload_bucket, key, DELETE_PREFLIGHT)
        for key in ("outside-uploads/acl", "outside-uploads/none")
    ]
    assert [answer.status_code for answer in answers] == [403, 200]


def test_an_objects_preflight_is_answered_from_the_buckets_cors_rule_whether_the_key_exists_or_not(
    local_aws: LocalAws, stack: LocalResources
) -> None:
    local_aws.session().client("s3").put_object(
        Bucket=stack.upload_bucket, Key="outside-uploads/kept", Body=b"x"
    )

    answers = [
        _preflight(local_aws, stack.upload_bucket, key, DELETE_PREFLIGHT)
        for key in ("outside-uploads/kept", "outside-uploads/never-uploaded")
    ]
    assert [answer.status_code for answer in answers] == [200, 200]
    assert _cors_headers(answers[0]) == {
        "Access-Control-Allow-Origin": PAGE_ORIGIN,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "PUT, DELETE",
        "Access-Control-Allow-Headers": "authorization, x-amz-date, x-amz-security-token",
        "Access-Control-Expose-Headers": "ETag, x-amz-version-id",
        "Access-Control-Max-Age": "3600",
    }
    assert _cors_headers(answers[1]) == _cors_headers(answers[0])
    vary = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
    assert [answer.headers["Vary"] for answer in answers] == [vary, vary]
    assert [answer.content for answer in answers] == [b"", b""]


def test_the_first_rule_that_allows_a_preflight_answers_it(local_aws: LocalAws, cors_bucket: str) -> None:
    upload = {
        "Origin": "https://site.example",
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Content-Type, X-Amz-Meta-Original-Name",
    }
    answer = _preflight(local_aws, cors_bucket, "new/photo.jpg", upload)
    assert answer.status_code == 200, answer.text
    assert _cors_headers(answer) == {
        "Access-Control-Allow-Origin": "https://site.example",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "PUT",
        "Access-Control-Allow-Headers": "content-type, x-amz-meta-original-name",
        "Access-Control-Max-Age": "60",
    }

    read = _preflight(
        local_aws,
        cors_bucket,
        "photo.jpg",
        {"Origin": "https://other.example", "Access-Control-Request-Method": "GET"},
    )
    assert read.status_code == 200, read.text
    assert _cors_headers(read) == {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, HEAD",
    }


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://other.example", "Access-Control-Request-Method": "PUT"},
        # moto's own origin match is a prefix match, which lets this one through.
        {"Origin": "https://site.example.other", "Access-Control-Request-Method": "PUT"},
        {"Origin": "https://site.example", "Access-Control-Request-Method": "DELETE"},
        {
            "Origin": "https://site.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "x-other",
        },
    ],
    ids=["origin", "origin-prefix", "method", "header"],
)
@pytest.mark.parametrize("key", ["photo.jpg", "missing.jpg"])
def test_a_preflight_no_rule_allows_is_refused_as_s3_refuses_it(
    local_aws: LocalAws, cors_bucket: str, key: str, headers: dict[str, str]
) -> None:
    answer = _preflight(local_aws, cors_bucket, key, headers)
    assert answer.status_code == 403
    assert _error(answer) == ("AccessForbidden", s3_hooks.NOT_ALLOWED)


def test_a_preflight_to_a_bucket_without_cors_rules_is_refused(local_aws: LocalAws) -> None:
    s3 = local_aws.session().client("s3")
    bucket = f"no-cors-{uuid.uuid4()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="photo.jpg", Body=b"x")
    try:
        for key in ("photo.jpg", "missing.jpg"):
            answer = _preflight(local_aws, bucket, key, DELETE_PREFLIGHT)
            assert answer.status_code == 403
            assert _error(answer) == ("AccessForbidden", s3_hooks.NOT_ENABLED)
    finally:
        s3.delete_object(Bucket=bucket, Key="photo.jpg")
        s3.delete_bucket(Bucket=bucket)


def test_a_preflight_without_an_origin_is_a_bad_request(local_aws: LocalAws, cors_bucket: str) -> None:
    answer = _preflight(local_aws, cors_bucket, "photo.jpg", {"Access-Control-Request-Method": "PUT"})
    assert answer.status_code == 400
    assert _error(answer) == ("BadRequest", s3_hooks.NO_ORIGIN)


def _error(answer: requests.Response) -> tuple[str, str]:
    """The code and message of an S3 error document."""
    code, message = (re.search(f"<{tag}>(.*?)</{tag}>", answer.text) for tag in ("Code", "Message"))
    assert code and message, answer.text
    return code[1], html.unescape(message[1])
