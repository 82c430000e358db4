"""Contract tests for labeler_tools.local.hooks.core (and the moto pin every hook was written against):
a moto upgrade that moves moto's request path fails here."""

from __future__ import annotations

from importlib.metadata import version
from urllib.parse import parse_qs, urlsplit

import pytest

from labeler_tools.deployment import LocalResources
from labeler_tools.local.server import LocalAws

pytestmark = pytest.mark.integration


def test_moto_is_the_version_the_hooks_were_written_against() -> None:
    assert version("moto") == "5.2.5", (
        "moto changed: re-check labeler_tools/local/hooks/, then update this pin"
    )


def test_in_process_calls_carry_sigv4_headers_without_signing_but_presigned_urls_are_signed(
    local_aws: LocalAws, stack: LocalResources, owner: str
) -> None:
    s3 = local_aws.session().client("s3")
    seen: list[dict[str, str]] = []
    s3.meta.events.register(
        "before-send.s3.PutObject",
        lambda request, **_: seen.append(
            {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        ),
        unique_id=f"headers-{owner}",
    )
    body = bytes(range(256)) * 300  # sent aws-chunked with a CRC32 trailer, as boto3 does by default
    key = f"uploads/{owner}/signed.bin"

    s3.put_object(Bucket=stack.upload_bucket, Key=key, Body=body)

    authorization = seen[0]["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=local/")
    assert "/us-east-1/s3/aws4_request" in authorization and "Signature=in-process" in authorization
    assert s3.get_object(Bucket=stack.upload_bucket, Key=key)["Body"].read() == body
    url = s3.generate_presigned_url("get_object", Params={"Bucket": stack.upload_bucket, "Key": key})
    query = parse_qs(urlsplit(url).query)
    signature = (query.get("Signature") or query.get("X-Amz-Signature") or [""])[0]
    assert len(signature) >= 20 and signature != "in-process"  # computed by botocore as always


def test_calls_forwarded_from_a_sandbox_get_the_answers_in_process_calls_get(
    local_aws: LocalAws, stack: LocalResources, owner: str
) -> None:
    from moto.core.models import botocore_stubber

    from labeler_tools.local import aws_channel
    from labeler_tools.local.hooks import core

    forwarded: list[str] = []

    def answer(request: aws_channel.Request) -> aws_channel.Answer:
        forwarded.append(request[1])
        return core.answer_aws_request(request)

    session = local_aws.session()
    s3, dynamodb = session.client("s3"), session.client("dynamodb")
    for client in (s3, dynamodb):  # the forwarder instead of moto's in-process hook, as in a sandbox
        client.meta.events.unregister("before-send", botocore_stubber)  # type: ignore[arg-type]
        client.meta.events.register("before-send", aws_channel.answering_with(answer))  # type: ignore[arg-type]
    key = f"uploads/{owner}/forwarded.bin"
    body = bytes(range(256)) * 300  # an aws-chunked upload body, as boto3 sends it

    s3.put_object(Bucket=stack.upload_bucket, Key=key, Body=body)
    whole = s3.get_object(Bucket=stack.upload_bucket, Key=key)["Body"].read()
    head = s3.get_object(Bucket=stack.upload_bucket, Key=key, Range="bytes=0-9")["Body"].read()
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=stack.upload_bucket, Key=key + ".missing")
    item = {"Owner": {"S": owner}, "ImageName": {"S": "forwarded"}}
    unless_present = "attribute_not_exists(ImageName)"
    dynamodb.put_item(TableName=stack.results_table, Item=item, ConditionExpression=unless_present)
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(TableName=stack.results_table, Item=item, ConditionExpression=unless_present)

    assert whole == body and head == body[:10]
    assert len(forwarded) == 6  # every call went through the forwarder
    assert core.answer_aws_request(("GET", "https://example.com/", [], b""))[0] == 404


def test_backend_url_tables_are_built_once_per_backend_class(local_aws: LocalAws) -> None:
    from moto.s3.models import s3_backends

    backend = s3_backends["123456789012"]["aws"]
    assert backend.urls is backend.urls
