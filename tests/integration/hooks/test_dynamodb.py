"""Contract tests for labeler_tools.local.hooks.dynamodb: each replacement gives moto's own answer, and a
moto upgrade that moves a method we replace fails here."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from labeler_tools.deployment import LocalResources
from labeler_tools.local.server import LocalAws

pytestmark = pytest.mark.integration


def test_dynamodb_answers_are_what_motos_serializer_would_send(local_aws: LocalAws, owner: str) -> None:
    from moto.dynamodb.responses import DynamoResult

    from labeler_tools.local.hooks import dynamodb as dynamodb_hooks

    compared: list[tuple[bool, bool]] = []  # (same answer, took the direct path)

    def both_ways(self: DynamoResult, context: Any) -> Any:
        fast = dynamodb_hooks._execute_result(self, context)
        slow = dynamodb_hooks._ORIGINAL_EXECUTE_RESULT(self, context)
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
    from labeler_tools.local.hooks import dynamodb as dynamodb_hooks

    dynamodb = local_aws.session().client("dynamodb")
    key = {"Owner": {"S": owner}, "ImageName": {"S": "condition"}}

    def put_unless_present() -> None:
        dynamodb.put_item(
            TableName=stack.results_table,
            Item=key,
            ConditionExpression="attribute_not_exists(#name)",
            ExpressionAttributeNames={"#name": "ImageName"},
        )

    dynamodb_hooks._PARSED_CONDITIONS.clear()
    put_unless_present()
    assert len(dynamodb_hooks._PARSED_CONDITIONS) == 1  # parsed once for validation and evaluation
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

    from labeler_tools.local.hooks import dynamodb as dynamodb_hooks

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
    dynamodb_hooks._PARSED_CONDITIONS.clear()
    for values, expected in writes:
        parser = ConditionExpressionParser(expression, names, values)
        reused = dynamodb_hooks._parse_condition(parser)
        fresh = ConditionExpressionParser(expression, names, values)
        original = dynamodb_hooks._ORIGINAL_CONDITION_PARSE(fresh)

        assert reused.expr(item) is original.expr(item) is expected
        assert repr(reused) == repr(original)
        assert parser.expr_attr_names_found == fresh.expr_attr_names_found
        assert parser.expr_attr_values_found == fresh.expr_attr_values_found
    assert len(dynamodb_hooks._PARSED_CONDITIONS) == 1  # parsed once for all the writes


def test_a_condition_whose_values_cannot_be_parsed_fails_as_in_moto() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    from labeler_tools.local.hooks import dynamodb as dynamodb_hooks

    writes: list[dict[str, Any]] = [{":low": {"NULL": True}, ":high": _n(1)}, {":low": _n(1)}]
    for values in writes:
        raised = []
        for parse in (dynamodb_hooks._parse_condition, dynamodb_hooks._ORIGINAL_CONDITION_PARSE):
            with pytest.raises(Exception) as error:  # noqa: PT011 - whatever moto raises
                parse(ConditionExpressionParser("#n BETWEEN :low AND :high", {"#n": "Size"}, values))
            raised.append(type(error.value))
        assert raised[0] is raised[1]


def test_dynamodb_item_operations_have_no_timestamps_and_no_binary_members_but_attribute_values() -> None:
    """What lets ``_parse_parameters`` load such requests as plain JSON."""
    import botocore.session

    from labeler_tools.local.hooks import dynamodb as dynamodb_hooks

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

    for operation in dynamodb_hooks._ITEM_OPERATIONS:
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

    from labeler_tools.local.hooks import dynamodb as dynamodb_hooks

    request = Request.from_primitives(
        "POST",
        "https://dynamodb.us-east-1.amazonaws.com/",
        {"X-Amz-Target": f"DynamoDB_20120810.{operation}", "Content-Type": "application/x-amz-json-1.0"},
        json.dumps(body).encode(),
    )
    fast, moto = DynamoHandler(), DynamoHandler()
    for handler in (fast, moto):  # what setup_class sets before it parses
        handler.headers, handler.querystring, handler.uri_match = request.headers, {}, {}
    dynamodb_hooks._parse_parameters(fast, request)
    dynamodb_hooks._ORIGINAL_PARSE_PARAMETERS(moto, request)

    assert fast.params == moto.params
    if "Thumb" in json.dumps(body):  # binary values: moto's own walk, which decodes them
        assert moto.params["Item"]["Thumb"] == {"B": b"hello"}


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

    from labeler_tools.local.hooks import dynamodb as dynamodb_hooks

    stored = DynamoType(attribute)
    built = dynamodb_hooks._to_regular_json(stored)

    assert built == dynamodb_hooks._ORIGINAL_TO_REGULAR_JSON(stored)
    # The JSON is a copy: changing it leaves the stored attribute as it was.
    value = next(iter(built.values()))
    if isinstance(value, list):
        value.append("added")
        assert dynamodb_hooks._to_regular_json(stored) != built
    elif isinstance(value, dict):
        value["added"] = "added"
        assert dynamodb_hooks._to_regular_json(stored) != built


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

    from labeler_tools.local.hooks import dynamodb as dynamodb_hooks

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
            expected = dynamodb_hooks._ORIGINAL_PROJECT(item, paths).to_json()
        except TypeError:  # moto's own projection fails on a binary set, or a nested path into a scalar
            continue
        assert dynamodb_hooks._project(item, paths).to_json() == expected


@pytest.mark.parametrize("sizes", [[100_000] * 5, [90_000, 310_000, 4_000], [1_000] * 50, [404_990]])
def test_the_item_size_limit_is_checked_as_moto_checks_it(sizes: list[int]) -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    from labeler_tools.local.hooks import dynamodb as dynamodb_hooks

    def attributes_accepted(setter: Any) -> int:
        item = LimitedSizeDict()
        for index, size in enumerate(sizes):
            try:
                setter(item, f"a{index}", DynamoType({"S": "x" * size}))
                setter(item, "a0", DynamoType({"S": "y" * sizes[0]}))  # replacing counts as moto counts it
            except ItemSizeTooLarge:
                return index
        return len(sizes)

    assert attributes_accepted(dynamodb_hooks._set_within_item_limit) == attributes_accepted(
        dynamodb_hooks._ORIGINAL_LIMITED_SET
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


def _backend_with_items() -> Any:
    """A fresh DynamoDB backend with one table (pk, sk) holding three items."""
    from moto.dynamodb.models import DynamoDBBackend

    backend = DynamoDBBackend("us-east-1", "123456789012")
    backend.create_table(
        "t",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        throughput=None,
        attr=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        global_indexes=None,
        indexes=None,
        streams=None,
        billing_mode="PAY_PER_REQUEST",
        sse_specification=None,
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )
    for sk, count in (("a", "1"), ("b", "5"), ("d", "7")):
        backend.put_item("t", {"pk": {"S": "p"}, "sk": {"S": sk}, "n": {"N": count}})
    return backend


def _key(sk: str) -> dict[str, Any]:
    return {"pk": {"S": "p"}, "sk": {"S": sk}}


_ADD_ONE = {"UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}
_NEW = {"TableName": "t", "Item": {**_key("c"), "n": {"N": "0"}}}
_ONLY_IF_NEW = {"ConditionExpression": "attribute_not_exists(pk)"}
_D_HOLDS_FIVE = {
    "TableName": "t",
    "Key": _key("d"),
    "ConditionExpression": "n = :five",
    "ExpressionAttributeValues": {":five": {"N": "5"}},
    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
}
_TRANSACTIONS: dict[str, list[dict[str, Any]]] = {
    "every action applies": [
        {"Put": {**_NEW, **_ONLY_IF_NEW}},
        {"Update": {"TableName": "t", "Key": _key("a"), **_ADD_ONE}},
        {"Delete": {"TableName": "t", "Key": _key("b")}},
    ],
    "the last condition fails": [
        {"Put": _NEW},
        {"Update": {"TableName": "t", "Key": _key("a"), **_ADD_ONE}},
        {"Delete": {"TableName": "t", "Key": _key("b")}},
        {"ConditionCheck": _D_HOLDS_FIVE},
    ],
    "a condition fails first": [
        {"Put": {"TableName": "t", "Item": {**_key("a"), "n": {"N": "9"}}, **_ONLY_IF_NEW}},
        {"Update": {"TableName": "t", "Key": _key("b"), **_ADD_ONE}},
    ],
    "two actions on one item": [
        {"Update": {"TableName": "t", "Key": _key("a"), **_ADD_ONE}},
        {"Delete": {"TableName": "t", "Key": _key("a")}},
    ],
    "an update that cannot apply": [
        {"Put": _NEW},
        {
            "Update": {
                "TableName": "t",
                "Key": _key("a"),
                "UpdateExpression": "ADD n :text",
                "ExpressionAttributeValues": {":text": {"S": "x"}},
            }
        },
    ],
}


@pytest.mark.parametrize("name", list(_TRANSACTIONS))
def test_a_transaction_writes_or_puts_back_exactly_what_motos_transaction_does(name: str) -> None:
    from labeler_tools.local.hooks import dynamodb as dynamodb_hooks

    def outcome(transact: Any) -> tuple[Any, Any]:
        backend = _backend_with_items()
        try:
            transact(backend, json.loads(json.dumps(_TRANSACTIONS[name])))
            raised = None
        except Exception as error:
            raised = (type(error).__name__, getattr(error, "description", str(error)))
        table = backend.get_table("t")
        stored = sorted((item.to_json() for item in table.all_items()), key=json.dumps)
        return raised, stored

    moto = outcome(dynamodb_hooks._ORIGINAL_TRANSACT_WRITE_ITEMS)
    assert outcome(dynamodb_hooks._transact_write_items) == moto
    assert (moto[0] is None) is (name == "every action applies")  # the cases cover both paths


def test_no_write_of_a_cancelled_transaction_is_ever_there_to_be_read() -> None:
    """moto writes each action before checking the next one's condition, so a reader (reads take no lock)
    can see what a transaction that is then cancelled wrote; DynamoDB never shows it."""
    from moto.dynamodb.exceptions import TransactionCanceledException

    from labeler_tools.local.hooks import dynamodb as dynamodb_hooks

    def reads_during(transact: Any) -> list[bool]:
        backend = _backend_with_items()
        get_item, seen = backend.get_item, []

        def watching(*args: Any, **kwargs: Any) -> Any:
            seen.append(get_item("t", _key("c")) is not None)  # the cancelled transaction's new item
            return get_item(*args, **kwargs)

        backend.get_item = watching
        with pytest.raises(TransactionCanceledException):
            transact(backend, json.loads(json.dumps(_TRANSACTIONS["the last condition fails"])))
        assert get_item("t", _key("c")) is None
        return seen

    assert any(reads_during(dynamodb_hooks._ORIGINAL_TRANSACT_WRITE_ITEMS))
    assert reads_during(dynamodb_hooks._transact_write_items) == [False] * 4


_UPDATES: dict[str, tuple[str, dict[str, str], dict[str, Any], str]] = {
    # (expression, names, values, the key's sort value)
    "a new item": (
        "ADD #c :d SET #n = :n", {"#c": "Images", "#n": "Name"}, {":d": {"N": "1"}, ":n": {"S": "Cat"}}, "new"
    ),
    "a negative delta": ("ADD #c :d", {"#c": "n"}, {":d": {"N": "-3"}}, "a"),
    "decimals": ("ADD #c :d, #e :f", {"#c": "n", "#e": "m"}, {":d": {"N": "2.50"}, ":f": {"N": "0.1"}}, "b"),
    "many at once": (
        "ADD #c0 :d0, #c1 :d1, #c2 :d2 SET #n0 = :n0, #n1 = :n1",
        {"#c0": "x y", "#c1": "x.z", "#c2": "n", "#n0": "name", "#n1": "other"},
        {":d0": {"N": "1"}, ":d1": {"N": "-1"}, ":d2": {"N": "10"}, ":n0": {"S": "X"}, ":n1": {"N": "7"}},
        "a",
    ),
    "a number added to a string": ("ADD #c :d", {"#c": "s"}, {":d": {"N": "1"}}, "d"),
    "a key attribute": ("ADD #c :d", {"#c": "sk"}, {":d": {"N": "1"}}, "a"),
    "one attribute twice": ("ADD #c :d, #e :d", {"#c": "n", "#e": "n"}, {":d": {"N": "1"}}, "a"),
    "a set added": ("ADD #c :d", {"#c": "tags"}, {":d": {"SS": ["t"]}}, "a"),
    "anything else": (
        "SET #c = if_not_exists(#c, :d) REMOVE #e", {"#c": "n", "#e": "m"}, {":d": {"N": "1"}}, "a"
    ),
}  # fmt: skip
#: The updates applied without moto's update machinery; every other one is moto's own.
_APPLIED_DIRECTLY = {"a new item", "a negative delta", "decimals", "many at once"}


@pytest.mark.parametrize("name", list(_UPDATES))
def test_a_plain_counter_update_leaves_the_item_as_motos_update_does(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labeler_tools.local.hooks import dynamodb as dynamodb_hooks

    expression, names, values, sort = _UPDATES[name]

    def outcome(update: Any) -> tuple[Any, Any]:
        backend = _backend_with_items()
        backend.put_item("t", {**_key("d"), "s": {"S": "text"}})
        try:
            for _ in range(2):  # onto the item as the first update left it, too
                update(backend, "t", _key(sort), expression, names, json.loads(json.dumps(values)))
            raised = None
        except Exception as error:
            raised = type(error).__name__
        stored = backend.get_item("t", _key(sort))
        return raised, stored.to_json() if stored else None

    moto = outcome(dynamodb_hooks._ORIGINAL_UPDATE_ITEM)
    fell_back: list[bool] = []
    original = dynamodb_hooks._ORIGINAL_UPDATE_ITEM

    def recorded(*arguments: Any) -> Any:
        fell_back.append(True)
        return original(*arguments)

    monkeypatch.setattr(dynamodb_hooks, "_ORIGINAL_UPDATE_ITEM", recorded)
    assert outcome(dynamodb_hooks._update_item) == moto
    assert (not fell_back) is (name in _APPLIED_DIRECTLY)
