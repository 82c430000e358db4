"""Contract tests for labeler_tools.local.moto_hooks: a moto upgrade that moves a hooked method fails here."""

from __future__ import annotations

import base64
import inspect
import json
from importlib.metadata import version
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from labeler_tools.deployment import LocalResources
from labeler_tools.local.server import LocalAws
from tests.conftest import NAMES

pytestmark = pytest.mark.integration


def test_moto_is_the_version_the_hooks_were_written_against() -> None:
    assert version("moto") == "5.2.5", (
        "moto changed: re-check labeler_tools/local/moto_hooks.py, then update this pin"
    )


def test_retry_sleep_is_still_a_module_level_time_sleep_in_moto() -> None:
    source = inspect.getsource(retrier_decl.RetrierDecl._eval_body)
    assert "time.sleep(interval_seconds)" in source
    assert hasattr(retrier_decl, "time")


def test_invoke_runs_the_real_handler_in_process(local_aws: LocalAws, stack: LocalResources) -> None:
    assert LambdaFunction._invoke_lambda.__module__ == "labeler_tools.local.moto_hooks"
    response = (
        local_aws.session()
        .client("lambda")
        .invoke(
            FunctionName=NAMES.prefix + "-label",
            Payload=json.dumps({"image": {"no": "such"}}).encode(),
        )
    )
    payload = json.loads(response["Payload"].read())
    # Our handler ran: Powertools' parser rejected the payload with its own error type.
    assert response["FunctionError"] == "Handled"
    assert payload["errorType"] == "ValidationError"
    assert "image" in payload["errorMessage"]


def test_handler_exception_class_name_becomes_the_lambda_error_type(
    local_aws: LocalAws, stack: LocalResources
) -> None:
    event = {"version": "0", "detail-type": "Object Created"}
    response = (
        local_aws.session()
        .client("lambda")
        .invoke(FunctionName=NAMES.prefix + "-validate", Payload=json.dumps(event).encode())
    )
    assert json.loads(response["Payload"].read())["errorType"] == "ValidationError"


def test_s3_still_delivers_eventbridge_events_through_the_function_we_replace(local_aws: LocalAws) -> None:
    from moto.s3 import notifications

    assert "_send_event_bridge_message(account_id, bucket, event_name, key)" in inspect.getsource(
        notifications.send_event
    )
    assert notifications._send_event_bridge_message.__module__ == "labeler_tools.local.moto_hooks"


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


def test_rule_delivery_signature_is_what_the_hook_replaces() -> None:
    from labeler_tools.local import moto_hooks

    original = inspect.signature(moto_hooks._ORIGINAL_SEND_TO_TARGETS)
    assert list(original.parameters) == ["self", "original_event", "transform_input"]
    assert "NotImplementedError" in inspect.getsource(moto_hooks._ORIGINAL_SEND_TO_TARGETS)


def test_pruning_forgets_the_oldest_finished_executions(
    local_aws: LocalAws, stack: LocalResources, owner: str
) -> None:
    from moto.stepfunctions.parser.utils import TMP_THREADS

    from labeler_tools.local import moto_hooks, runner
    from labeler_tools.samples import photo_like

    session = local_aws.session()
    sfn = session.client("stepfunctions")
    for index in range(2):
        event = runner.upload(
            session.client("s3"), stack.upload_bucket, f"uploads/{owner}/{index}.jpg", photo_like(90, 90)
        )
        runner.wait_for_execution(sfn, runner.start_execution(sfn, stack.state_machine_arn, event))
    executions = sfn.list_executions(stateMachineArn=stack.state_machine_arn, maxResults=1000)["executions"]
    oldest = min(executions, key=lambda execution: execution["startDate"])
    # the interpreter's threads that had ended by now (a thread still ending may outlive the prune)
    ended = [thread for thread in TMP_THREADS if thread.ident is not None and not thread.is_alive()]
    assert ended  # the two executions above left theirs behind

    dropped = moto_hooks.prune_finished_executions("123456789012", "us-east-1", keep=len(executions) - 1)

    assert dropped == 1
    assert not [thread for thread in ended if thread in TMP_THREADS]
    remaining = sfn.list_executions(stateMachineArn=stack.state_machine_arn, maxResults=1000)["executions"]
    assert len(remaining) == len(executions) - 1
    assert oldest["executionArn"] not in {execution["executionArn"] for execution in remaining}


def test_dynamodb_answers_are_what_motos_serializer_would_send(local_aws: LocalAws, owner: str) -> None:
    from moto.dynamodb.responses import DynamoResult

    from labeler_tools.local import moto_hooks

    compared: list[tuple[bool, bool]] = []  # (same answer, took the direct path)

    def both_ways(self: DynamoResult, context: Any) -> Any:
        fast = moto_hooks._dynamo_execute_result(self, context)
        slow = moto_hooks._ORIGINAL_DYNAMO_EXECUTE_RESULT(self, context)
        direct = fast[1] == {"Content-Type": context.serializer_class.CONTENT_TYPE}
        compared.append(((fast[0], json.loads(fast[2])) == (slow[0], json.loads(slow[2])), direct))
        return fast

    dynamodb = local_aws.session().client("dynamodb")
    table = f"hooks-{owner}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DynamoResult, "execute_result", both_ways)
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        item: dict[str, Any] = {
            "k": {"S": "a"},
            "n": {"N": "1.50"},
            "b": {"B": b"\x00\xff"},
            "l": {"L": [{"M": {"x": {"BOOL": True}}}, {"NULL": True}, {"SS": ["p", "q"]}]},
        }
        dynamodb.put_item(TableName=table, Item=item, ReturnConsumedCapacity="TOTAL")
        assert dynamodb.get_item(TableName=table, Key={"k": {"S": "a"}})["Item"] == item
        dynamodb.query(
            TableName=table, KeyConditionExpression="k = :k", ExpressionAttributeValues={":k": {"S": "a"}}
        )
        dynamodb.batch_get_item(RequestItems={table: {"Keys": [{"k": {"S": "a"}}, {"k": {"S": "none"}}]}})
        dynamodb.put_item(TableName=table, Item={"k": {"S": "a"}}, ReturnValues="ALL_OLD")
        dynamodb.delete_table(TableName=table)

    assert compared and all(same for same, _ in compared)
    assert sum(direct for _, direct in compared) >= 5  # CreateTable's dates take moto's own path


def test_a_conditional_write_reuses_its_parsed_condition_and_still_evaluates_it(
    local_aws: LocalAws, stack: LocalResources, owner: str
) -> None:
    from labeler_tools.local import moto_hooks

    dynamodb = local_aws.session().client("dynamodb")
    key = {"Owner": {"S": owner}, "ImageName": {"S": "condition"}}

    def put_unless_present() -> None:
        dynamodb.put_item(
            TableName=stack.results_table,
            Item=key,
            ConditionExpression="attribute_not_exists(#name)",
            ExpressionAttributeNames={"#name": "ImageName"},
        )

    moto_hooks._PARSED_CONDITIONS.clear()
    put_unless_present()
    assert len(moto_hooks._PARSED_CONDITIONS) == 1  # parsed once for validation and evaluation
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        put_unless_present()  # the same parsed condition, now false


def _s(text: str) -> dict[str, str]:
    return {"S": text}


def _n(number: int) -> dict[str, str]:
    return {"N": str(number)}


#: Conditions on the item below, each with the values of several writes and what each write's
#: condition comes to.
_CONDITIONS: list[tuple[str, list[tuple[dict[str, Any], bool]]]] = [
    (
        "attribute_not_exists(#k) OR #seq < :seq OR (#seq = :seq AND #status IN (:failed, :open))",
        [
            ({":seq": _s("0001"), ":failed": _s("FAILED"), ":open": _s("PROCESSING")}, False),
            ({":seq": _s("0009"), ":failed": _s("FAILED"), ":open": _s("PROCESSING")}, True),
            ({":seq": _s("0005"), ":failed": _s("LABELED"), ":open": _s("PROCESSING")}, False),
            ({":seq": _s("0005"), ":failed": _s("FAILED"), ":open": _s("PROCESSING")}, True),
        ],
    ),
    (
        "#n BETWEEN :low AND :high AND size(#tags) > :count",
        [
            ({":low": _n(100), ":high": _n(400), ":count": _n(1)}, True),
            ({":low": _n(100), ":high": _n(200), ":count": _n(1)}, False),
            ({":low": _n(100), ":high": _n(400), ":count": _n(2)}, False),
        ],
    ),
    (
        "begins_with(#name, :prefix) OR contains(#tags, :tag) OR #map.#inner = :inner",
        [
            ({":prefix": _s("cat"), ":tag": _s("x"), ":inner": _n(13)}, True),
            ({":prefix": _s("dog"), ":tag": _s("x"), ":inner": _n(13)}, False),
            ({":prefix": _s("dog"), ":tag": _s("pet"), ":inner": _n(13)}, True),
            ({":prefix": _s("dog"), ":tag": _s("x"), ":inner": _n(12)}, True),
        ],
    ),
    (
        "attribute_type(#n, :type) AND NOT (#list = :list)",
        [
            ({":type": _s("N"), ":list": {"L": []}}, True),
            ({":type": _s("S"), ":list": {"L": []}}, False),
            ({":type": _s("N"), ":list": {"L": [_s("Cat")]}}, False),
        ],
    ),
]


@pytest.mark.parametrize(("expression", "writes"), _CONDITIONS, ids=[c[0][:30] for c in _CONDITIONS])
def test_a_reused_parse_of_a_condition_evaluates_with_each_writes_own_values(
    expression: str, writes: list[tuple[dict[str, Any], bool]]
) -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from labeler_tools.local import moto_hooks

    names = {
        "#k": "ImageName", "#seq": "Sequencer", "#status": "Status", "#n": "Size", "#tags": "Tags",
        "#name": "ImageName", "#map": "Timings", "#inner": "Label", "#list": "Labels",
    }  # fmt: skip
    names = {alias: name for alias, name in names.items() if alias in expression}
    item = Item(
        DynamoType(_s("owner")),
        DynamoType(_s("cat.jpg")),
        {
            "Owner": _s("owner"),
            "ImageName": _s("cat.jpg"),
            "Sequencer": _s("0005"),
            "Status": _s("FAILED"),
            "Size": _n(300),
            "Tags": {"SS": ["cat", "pet"]},
            "Timings": {"M": {"Label": _n(12)}},
            "Labels": {"L": [_s("Cat")]},
        },
    )
    moto_hooks._PARSED_CONDITIONS.clear()
    for values, expected in writes:
        parser = ConditionExpressionParser(expression, names, values)
        reused = moto_hooks._parse_condition(parser)
        fresh = ConditionExpressionParser(expression, names, values)
        original = moto_hooks._ORIGINAL_CONDITION_PARSE(fresh)

        assert reused.expr(item) is original.expr(item) is expected
        assert repr(reused) == repr(original)
        assert parser.expr_attr_names_found == fresh.expr_attr_names_found
        assert parser.expr_attr_values_found == fresh.expr_attr_values_found
    assert len(moto_hooks._PARSED_CONDITIONS) == 1  # parsed once for all the writes


def test_a_condition_whose_values_cannot_be_parsed_fails_as_in_moto() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    from labeler_tools.local import moto_hooks

    writes: list[dict[str, Any]] = [{":low": {"NULL": True}, ":high": _n(1)}, {":low": _n(1)}]
    for values in writes:
        raised = []
        for parse in (moto_hooks._parse_condition, moto_hooks._ORIGINAL_CONDITION_PARSE):
            with pytest.raises(Exception) as error:  # noqa: PT011 - whatever moto raises
                parse(ConditionExpressionParser("#n BETWEEN :low AND :high", {"#n": "Size"}, values))
            raised.append(type(error.value))
        assert raised[0] is raised[1]


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


def test_dynamodb_item_operations_have_no_timestamps_and_no_binary_members_but_attribute_values() -> None:
    """What lets ``_parse_dynamodb_parameters`` load such requests as plain JSON."""
    import botocore.session

    from labeler_tools.local import moto_hooks

    service = botocore.session.get_session().get_service_model("dynamodb")
    found: set[tuple[str, str]] = set()

    def walk(shape: Any, path: str, seen: frozenset[str]) -> None:
        if shape.name in seen:
            return
        seen |= {shape.name}
        if shape.type_name in ("timestamp", "blob"):
            found.add((shape.type_name, path.rsplit(".", 1)[-1]))
        for name, member in getattr(shape, "members", {}).items():
            walk(member, f"{path}.{name}", seen)
        for child in (getattr(shape, "member", None), getattr(shape, "value", None)):
            if child is not None:
                walk(child, path, seen)

    for operation in moto_hooks._DYNAMODB_ITEM_OPERATIONS:
        walk(service.operation_model(operation).input_shape, operation, frozenset())

    assert found == {("blob", "B"), ("blob", "BS")}


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        (
            "PutItem",
            {
                "TableName": "t",
                "Item": {
                    "Owner": {"S": "me"},
                    "Size": {"N": "12.5"},
                    "Labels": {"L": [{"M": {"Name": {"S": "Sky"}, "Confidence": {"N": "99"}}}]},
                    "Tags": {"SS": ["a", "b"]},
                    "Done": {"BOOL": True},
                    "Gone": {"NULL": True},
                },
                "ConditionExpression": "attribute_not_exists(#k) OR #t < :t",
                "ExpressionAttributeNames": {"#k": "ImageName", "#t": "Timestamp"},
                "ExpressionAttributeValues": {":t": {"S": "2026-11-27T00:00:00.000Z"}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        ),
        (
            "BatchGetItem",
            {
                "RequestItems": {
                    "t": {
                        "Keys": [{"Owner": {"S": "me"}, "ImageName": {"S": "a.jpg"}}],
                        "ProjectionExpression": "#s, #t",
                        "ExpressionAttributeNames": {"#s": "Status", "#t": "Timestamp"},
                        "ConsistentRead": True,
                    }
                }
            },
        ),
        (
            "Query",
            {"TableName": "t", "KeyConditionExpression": "#o = :o", "Limit": 25, "ScanIndexForward": False},
        ),
        ("PutItem", {"TableName": "t", "Item": {"Owner": {"S": "me"}, "Thumb": {"B": "aGVsbG8="}}}),
    ],
)
def test_dynamodb_requests_parsed_as_json_give_the_parameters_moto_would_parse(
    operation: str, body: dict[str, Any]
) -> None:
    from moto.core.request import Request
    from moto.dynamodb.responses import DynamoHandler

    from labeler_tools.local import moto_hooks

    request = Request.from_primitives(
        "POST",
        "https://dynamodb.us-east-1.amazonaws.com/",
        {"X-Amz-Target": f"DynamoDB_20120810.{operation}", "Content-Type": "application/x-amz-json-1.0"},
        json.dumps(body).encode(),
    )
    fast, moto = DynamoHandler(), DynamoHandler()
    for handler in (fast, moto):  # what setup_class sets before it parses
        handler.headers, handler.querystring, handler.uri_match = request.headers, {}, {}
    moto_hooks._parse_dynamodb_parameters(fast, request)
    moto_hooks._ORIGINAL_DYNAMODB_PARSE_PARAMETERS(moto, request)

    assert fast.params == moto.params
    if "Thumb" in json.dumps(body):  # binary values: moto's own walk, which decodes them
        assert moto.params["Item"]["Thumb"] == {"B": b"hello"}


def test_calls_forwarded_from_a_sandbox_get_the_answers_in_process_calls_get(
    local_aws: LocalAws, stack: LocalResources, owner: str
) -> None:
    from moto.core.models import botocore_stubber

    from labeler_tools.local import aws_channel, moto_hooks

    forwarded: list[str] = []

    def answer(request: aws_channel.Request) -> aws_channel.Answer:
        forwarded.append(request[1])
        return moto_hooks.answer_aws_request(request)

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
    assert moto_hooks.answer_aws_request(("GET", "https://example.com/", [], b""))[0] == 404


def test_lambda_tasks_reach_the_backend_directly_with_the_answers_boto3_would_give(
    local_aws: LocalAws, stack: LocalResources
) -> None:
    from botocore.exceptions import ClientError

    from labeler_tools.local import moto_hooks

    assert lambda_eval_utils._invoke_lambda_function is moto_hooks._invoke_lambda_task
    label_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{NAMES.prefix}-label"

    failed = moto_hooks._invoke_lambda_task(
        {"FunctionName": label_arn, "Payload": b'{"image": 1}'}, "us-east-1", None
    )
    assert (failed["StatusCode"], failed["FunctionError"]) == (200, "Handled")
    assert failed["Payload"]["errorType"] == "ValidationError"  # parsed, as the interpreter expects

    with pytest.raises(ClientError) as raised:
        moto_hooks._invoke_lambda_task(
            {"FunctionName": label_arn + "-missing", "Payload": b"{}"}, "us-east-1", None
        )
    assert (
        raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    )  # -> Lambda.ResourceNotFound...


def test_copy_json_tree_copies_like_deepcopy() -> None:
    from labeler_tools.local.moto_hooks import copy_json_tree

    marker = object()
    original: dict[str, Any] = {
        "a": [1, 2.5, {"b": None, "c": True}],
        "d": "text",
        "e": (1, [2]),
        "f": marker,
    }
    copied = copy_json_tree(original)

    assert copied == {**original, "f": copied["f"]}
    copied["a"][2]["b"] = "changed"
    copied["e"][1].append(3)
    assert original["a"][2]["b"] is None and original["e"] == (1, [2])  # tuples go through deepcopy
    assert copied["f"] is not marker  # anything else too


_ATTRIBUTE_VALUES: list[dict[str, Any]] = [
    {"S": "text"},
    {"N": "12.5"},
    {"B": base64.b64encode(b"\x00binary").decode()},
    {"BOOL": False},
    {"NULL": True},
    {"SS": ["a", "b"]},
    {"NS": ["1", "2"]},
    {"BS": [base64.b64encode(b"one").decode()]},
    {"L": []},
    {"M": {}},
    {
        "L": [
            {
                "M": {
                    "Name": {"S": "Cat"},
                    "Confidence": {"N": "97.1"},
                    "Parents": {"L": [{"M": {"Name": {"S": "Animal"}}}]},
                }
            },
            {"L": [{"B": base64.b64encode(b"nested").decode()}, {"SS": ["x"]}, {"NULL": True}]},
        ]
    },
    {"M": {"Deep": {"M": {"Deeper": {"L": [{"M": {"Deepest": {"N": "1"}}}]}}}, "Flag": {"BOOL": True}}},
]


@pytest.mark.parametrize("attribute", _ATTRIBUTE_VALUES, ids=lambda value: next(iter(value)))
def test_stored_attributes_turn_into_the_json_moto_would_build(attribute: dict[str, Any]) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    from labeler_tools.local import moto_hooks

    stored = DynamoType(attribute)
    built = moto_hooks._to_regular_json(stored)

    assert built == moto_hooks._ORIGINAL_TO_REGULAR_JSON(stored)
    # The JSON is a copy: changing it leaves the stored attribute as it was.
    value = next(iter(built.values()))
    if isinstance(value, list):
        value.append("added")
        assert moto_hooks._to_regular_json(stored) != built
    elif isinstance(value, dict):
        value["added"] = "added"
        assert moto_hooks._to_regular_json(stored) != built


@pytest.mark.parametrize(
    "paths",
    [
        [["Status"], ["Timestamp"]],
        [["Value"]],
        [["Status"], ["Missing"], ["Status"]],
        [["Missing"]],
        [["Value", "Labels"], ["Status"]],  # nested paths and list items take moto's own path
        [["Value[0]"]],
    ],
    ids=str,
)
def test_projections_hold_what_motos_projection_holds(paths: list[list[str]]) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from labeler_tools.local import moto_hooks

    for value in _ATTRIBUTE_VALUES:
        item = Item(
            DynamoType({"S": "owner"}),
            DynamoType({"S": "image"}),
            {
                "Owner": {"S": "owner"},
                "Status": {"S": "LABELED"},
                "Timestamp": {"S": "2026-11-27T06:00:00Z"},
                "Value": value,
            },
        )
        try:
            expected = moto_hooks._ORIGINAL_PROJECT(item, paths).to_json()
        except TypeError:  # moto's own projection fails on a binary set, or a nested path into a scalar
            continue
        assert moto_hooks._project(item, paths).to_json() == expected


def test_backend_url_tables_are_built_once_per_backend_class() -> None:
    from moto.s3.models import s3_backends

    backend = s3_backends["123456789012"]["aws"]
    assert backend.urls is backend.urls


@pytest.mark.parametrize("sizes", [[100_000] * 5, [90_000, 310_000, 4_000], [1_000] * 50, [404_990]])
def test_the_item_size_limit_is_checked_as_moto_checks_it(sizes: list[int]) -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    from labeler_tools.local import moto_hooks

    def attributes_accepted(setter: Any) -> int:
        item = LimitedSizeDict()
        for index, size in enumerate(sizes):
            try:
                setter(item, f"a{index}", DynamoType({"S": "x" * size}))
                setter(item, "a0", DynamoType({"S": "y" * sizes[0]}))  # replacing counts as moto counts it
            except ItemSizeTooLarge:
                return index
        return len(sizes)

    assert attributes_accepted(moto_hooks._set_within_item_limit) == attributes_accepted(
        moto_hooks._ORIGINAL_LIMITED_SET
    )


def test_a_write_over_400_kb_is_still_refused(local_aws: LocalAws, stack: LocalResources, owner: str) -> None:
    dynamodb = local_aws.session().client("dynamodb")
    item = {
        "Owner": {"S": owner},
        "ImageName": {"S": "big"},
        **{f"a{i}": {"S": "x" * 100_000} for i in range(5)},
    }
    with pytest.raises(dynamodb.exceptions.ClientError, match="Item size has exceeded"):
        dynamodb.put_item(TableName=stack.results_table, Item=item)


def test_an_identity_pool_can_get_back_its_earlier_id(local_aws: LocalAws, owner: str) -> None:
    from labeler_tools.local import moto_hooks

    cognito = local_aws.session().client("cognito-identity")
    pool = cognito.create_identity_pool(IdentityPoolName=f"p{owner[:8]}", AllowUnauthenticatedIdentities=True)
    earlier = f"us-east-1:{owner}"

    moto_hooks.rename_identity_pool("123456789012", "us-east-1", pool["IdentityPoolId"], earlier)

    assert (
        cognito.describe_identity_pool(IdentityPoolId=earlier)["IdentityPoolName"] == pool["IdentityPoolName"]
    )
    assert cognito.get_id(IdentityPoolId=earlier)["IdentityId"].startswith("us-east-1:")
    with pytest.raises(cognito.exceptions.ResourceNotFoundException):
        cognito.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
    cognito.delete_identity_pool(IdentityPoolId=earlier)
