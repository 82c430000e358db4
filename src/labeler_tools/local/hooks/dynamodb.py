"""DynamoDB (``moto.dynamodb``): atomic writes, and moto's per-request costs cut.

moto checks a write's condition and then writes, without a lock: two threads could both pass it,
where DynamoDB applies each conditional write and transaction atomically. ``install`` serialises the
backend's writes.

Speed (measured in ``make bench``), each a replacement that gives moto's own answer:

- moto serialises every answer by walking the botocore output shape attribute by attribute; a
  DynamoDB answer already is the wire JSON, so ``DynamoResult.execute_result`` dumps it directly
  (anything that is not plain JSON, such as a table's creation time, takes moto's path).
- The same walk parses every request; an item operation's request without binary attribute values
  already is its parameters, so ``DynamoHandler.parse_parameters`` loads it with ``json.loads``.
- A conditional PutItem parses its ConditionExpression twice (once to validate the request, once to
  evaluate it), and each write brings new values: an expression is parsed once per names and value
  types, with slots where the values go, and every parse after that fills the slots with its own
  values (``ConditionExpressionParser.parse``).
- An item's 400 KB limit is checked by re-measuring every attribute at every attribute set (O(n²)
  per write): each attribute's size is remembered instead (``LimitedSizeDict.__setitem__``;
  re-measured when the dict was changed by other means; a nested value changed in place keeps its
  old size).
- Turning a stored attribute into JSON (every item read, projection and PutItem answer) deep-copies
  each nested map or list once for every level above it (``DynamoType.to_regular_json``; every
  PutItem answer converts the item, then moto discards it): one pass builds the same JSON.
- A projection converts the whole item once per projected path (``Item.project``): projections of
  top-level names convert only those attributes.
- An UpdateItem is parsed into an AST, deep-copied, validated and executed by moto's update
  machinery (about 1 ms each here); the label index's counters do that 16 to 32 times per outcome.
  An update that only ADDs numbers to top-level attributes and SETs top-level attributes to values
  (``ADD #a :x, #b :y SET #c = :z``), on no key attribute, is applied directly, with moto's own
  number addition (``DynamoDBBackend.update_item``); any other falls to moto.
- A transaction deep-copies every table it touches before its first write, to put them back if it
  is cancelled (``DynamoDBBackend.transact_write_items``): a store of one image copied the whole
  results and label index tables. Only the items its actions name are kept now, and put back.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.comparisons import AttributeValue, ConditionExpressionParser, get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    ItemSizeTooLarge,
    ItemSizeToUpdateTooLarge,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend, dynamo_type
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.responses import DynamoHandler, DynamoResult

from labeler_tools.local.hooks.utilities import copy_json_tree, serialise

#: Serialised by one lock (``utilities.serialise``).
_SERIALISED = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")

_ORIGINAL_EXECUTE_RESULT = DynamoResult.execute_result


def _wire_json_default(value: Any) -> str:
    if isinstance(value, bytes):  # Binary attributes travel base64-encoded, as moto's serializer sends them
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)


def _execute_result(self: DynamoResult, context: Any) -> Any:
    try:
        body = json.dumps(self.result, default=_wire_json_default, allow_nan=False)
    except (TypeError, ValueError):
        return _ORIGINAL_EXECUTE_RESULT(self, context)
    return 200, {"Content-Type": context.serializer_class.CONTENT_TYPE}, body


_ORIGINAL_CONDITION_PARSE = ConditionExpressionParser.parse


@dataclass(frozen=True)
class _ValueSlot:
    """Where an expression attribute value goes in a parsed condition that is kept for reuse."""

    name: str


@dataclass(frozen=True)
class _ParsedCondition:
    """A condition parsed with value slots, what the parse found, and the ids of the condition's nodes
    that hold a slot at some depth (the only ones a write's values rebuild)."""

    condition: Any
    names_found: list[str]
    values_found: list[str]
    holding_slots: frozenset[int]


#: (expression, names, value names and types) -> the condition parsed with value slots.
_PARSED_CONDITIONS: dict[tuple[str, str, tuple[tuple[str, str], ...]], _ParsedCondition] = {}
_PARSED_CONDITIONS_LIMIT = 256


def _children(node: Any) -> Iterable[Any]:
    if isinstance(node, (list, tuple)):
        return node
    if type(node).__module__ == AttributeValue.__module__:  # the parser's Op, Func and Operand nodes
        attributes: dict[str, Any] = vars(node)
        return attributes.values()
    return ()


def _nodes_holding_slots(node: Any, found: set[int]) -> bool:
    """Add the id of every node under ``node`` (itself included) that holds a value slot to ``found``."""
    if isinstance(node, AttributeValue):
        holds = isinstance(node.value, _ValueSlot)
    else:
        holds = False
        for child in _children(node):  # every child, not only up to the first that holds one
            holds = _nodes_holding_slots(child, found) or holds
    if holds:
        found.add(id(node))
    return holds


def _bind_values(node: Any, values: Mapping[str, Any], holding_slots: frozenset[int]) -> Any:
    """``node`` with each value slot filled from ``values``; nodes without slots are shared, not copied
    or visited."""
    if id(node) not in holding_slots:
        return node
    if isinstance(node, AttributeValue):
        return AttributeValue(values[node.value.name])
    if isinstance(node, (list, tuple)):
        return type(node)([_bind_values(child, values, holding_slots) for child in node])
    clone = copy.copy(node)
    for attribute, child in vars(node).items():
        if id(child) in holding_slots:
            setattr(clone, attribute, _bind_values(child, values, holding_slots))
    return clone


def _parse_condition(self: ConditionExpressionParser) -> Any:
    values = self.expression_attribute_values or {}
    if not self.condition_expression or not all(
        isinstance(value, dict) and len(value) == 1 for value in values.values()
    ):
        return _ORIGINAL_CONDITION_PARSE(self)
    key = (
        self.condition_expression,
        json.dumps(self.expression_attribute_names, sort_keys=True),
        tuple(sorted((name, next(iter(value))) for name, value in values.items())),
    )
    parsed = _PARSED_CONDITIONS.get(key)
    if parsed is None:
        # Parsed once with slots where the values go (the parser looks only at their types), so
        # that the next write with other values reuses the parse.
        template = ConditionExpressionParser(
            self.condition_expression,
            self.expression_attribute_names,
            {name: {kind: _ValueSlot(name)} for name, kind in key[2]},  # type: ignore[dict-item]
        )
        condition = _ORIGINAL_CONDITION_PARSE(template)
        holding_slots: set[int] = set()
        _nodes_holding_slots(condition, holding_slots)
        if len(_PARSED_CONDITIONS) >= _PARSED_CONDITIONS_LIMIT:
            _PARSED_CONDITIONS.clear()
        parsed = _PARSED_CONDITIONS[key] = _ParsedCondition(
            condition,
            list(template.expr_attr_names_found),
            list(template.expr_attr_values_found),
            frozenset(holding_slots),
        )
    self.expr_attr_names_found.extend(parsed.names_found)
    self.expr_attr_values_found.extend(parsed.values_found)
    return _bind_values(parsed.condition, values, parsed.holding_slots)


_ORIGINAL_TO_REGULAR_JSON = DynamoType.to_regular_json


def _regular_json(value: Any) -> Any:
    return value.to_regular_json() if isinstance(value, DynamoType) else copy_json_tree(value)


def _to_regular_json(self: DynamoType) -> dict[str, Any]:
    """moto's ``DynamoType.to_regular_json`` in one pass over the attribute's tree."""
    value = self.value
    if isinstance(value, dict):
        value = {key: _regular_json(nested) for key, nested in value.items()}
    elif isinstance(value, list):
        value = [_regular_json(nested) for nested in value]
    else:
        value = copy_json_tree(value)
    if self.is_binary() and isinstance(value, str):
        value = base64.b64decode(value)
    return {self.type: value}


_ORIGINAL_PROJECT = Item.project


def _project(self: Item, projection_expressions: list[list[str]]) -> Item:
    """moto's ``Item.project``, converting only the projected attributes when every path is a
    top-level name (moto converts the whole item once per path)."""
    if any(len(path) != 1 or "[" in path[0] for path in projection_expressions):
        return _ORIGINAL_PROJECT(self, projection_expressions)
    plain = {
        name: dynamo_type.deserializer.deserialize(self.attrs[name].to_regular_json())
        for name in (path[0] for path in projection_expressions)
        if name in self.attrs
    }
    return Item(self.hash_key, self.range_key, dict(dynamo_type.serializer.serialize(plain)["M"]))


_ITEM_SIZE_LIMIT = 405_000  # moto's own figure for DynamoDB's 400 KB
_ORIGINAL_LIMITED_SET = LimitedSizeDict.__setitem__


def _entry_size(key: str, value: Any) -> int:
    """What moto counts for one attribute: its name, plus its value's size."""
    return bytesize(str(key)) + (value.size() if type(value) is DynamoType else bytesize(str(value)))


def _set_within_item_limit(self: LimitedSizeDict, key: str, value: Any) -> None:
    sizes: dict[str, tuple[Any, int]] | None = self.__dict__.get("_entry_sizes")
    if sizes is None or sizes.keys() != self.keys() or any(self[k] is not v for k, (v, _) in sizes.items()):
        sizes = self.__dict__["_entry_sizes"] = {k: (v, _entry_size(k, v)) for k, v in self.items()}
    new_size = _entry_size(key, value)
    # As moto counts it: every stored attribute (a replaced one included) plus the new one.
    if sum(size for _, size in sizes.values()) + new_size > _ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    dict.__setitem__(self, key, value)
    sizes[key] = (value, new_size)


_ORIGINAL_PARSE_PARAMETERS = DynamoHandler.parse_parameters
#: Item operations: their inputs hold no timestamps, and their only binary members are the
#: attribute values "B" and "BS" (checked against botocore's model by a contract test).
_ITEM_OPERATIONS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem", "BatchWriteItem", "Query", "Scan"}
)
_BINARY_ATTRIBUTE_VALUE = re.compile(rb'"BS?"\s*:')


def _parse_parameters(self: DynamoHandler, request: Any) -> None:
    body = request.data
    if self._get_action() not in _ITEM_OPERATIONS or not body or _BINARY_ATTRIBUTE_VALUE.search(body):
        _ORIGINAL_PARSE_PARAMETERS(self, request)
        return
    self.params = json.loads(body)


_ORIGINAL_UPDATE_ITEM = DynamoDBBackend.update_item
_PLAIN_UPDATE = re.compile(
    r"ADD (?P<adds>#\w+ :\w+(?:, #\w+ :\w+)*)(?: SET (?P<sets>#\w+ = :\w+(?:, #\w+ = :\w+)*))?"
)
_ZERO = {"N": "0"}


def _update_item(
    self: DynamoDBBackend,
    table_name: str,
    key: dict[str, dict[str, Any]],
    update_expression: str,
    expression_attribute_names: dict[str, Any],
    expression_attribute_values: dict[str, Any],
    attribute_updates: dict[str, Any] | None = None,
    expected: dict[str, Any] | None = None,
    condition_expression: str | None = None,
    return_values_on_condition_check_failure: str | None = None,
) -> Item:
    """moto's ``update_item``; a plain counter update (see the module docstring) without its AST."""
    plain = _PLAIN_UPDATE.fullmatch(update_expression or "")
    table = self.get_table(table_name)
    names, values = expression_attribute_names or {}, expression_attribute_values or {}
    adds = [pair.split(" ") for pair in plain["adds"].split(", ")] if plain else []
    sets = [pair.split(" = ") for pair in plain["sets"].split(", ")] if plain and plain["sets"] else []
    targets: list[Any] = [names.get(name) for name, _ in adds + sets]
    keys = {table.hash_key_attr, table.range_key_attr}
    keys |= {name for index in table.indexes + table.global_indexes for name in index.schema_key_attrs}
    hash_value, range_value = self.get_keys_value(table, key)
    item = table.get_item(hash_value, range_value)
    current = [item.attrs.get(target) if item else None for target in targets[: len(adds)]]
    if (
        not plain
        or attribute_updates
        or expected
        or condition_expression
        or table.stream_shard is not None
        or None in targets
        or len(set(targets)) < len(targets)
        or keys & set(targets)
        or any(list(values.get(value, {})) != ["N"] for _, value in adds)
        or any(value not in values for _, value in sets)
        or any(existing is not None and existing.type != "N" for existing in current)
    ):
        return _ORIGINAL_UPDATE_ITEM(
            self,
            table_name,
            key,
            update_expression,
            expression_attribute_names,
            expression_attribute_values,
            attribute_updates,
            expected,
            condition_expression,
            return_values_on_condition_check_failure,
        )
    if item is None:
        table.put_item({name: key[name] for name in (table.hash_key_attr, table.range_key_attr) if name})
        item = table.get_item(hash_value, range_value)
    assert item is not None
    try:
        for target, (_, value), existing in zip(targets, adds, current, strict=False):
            item.attrs[target] = (existing or DynamoType(_ZERO)) + DynamoType(values[value])
        for target, (_, value) in zip(targets[len(adds) :], sets, strict=True):
            item.attrs[target] = DynamoType(values[value])
    except ItemSizeTooLarge:
        raise ItemSizeToUpdateTooLarge() from None
    return item


_ORIGINAL_TRANSACT_WRITE_ITEMS = DynamoDBBackend.transact_write_items
_TRANSACTION_ACTIONS = {"ConditionCheck", "Put", "Delete", "Update"}


def _put_back(backend: DynamoDBBackend, kept: dict[tuple[str, str], tuple[str, dict[str, Any], Any]]) -> None:
    """Each item a cancelled transaction touched, as it was before (gone again if there was none)."""
    for table_name, key, item in kept.values():
        if item is None:
            backend.delete_item(table_name, key)
        else:
            backend.put_item(table_name, item.to_json()["Attributes"])


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's ``transact_write_items`` (the same actions, the same cancellation reasons, the same items
    after it) that checks every condition before the first write, and keeps a copy of each item it
    writes instead of a copy of each table.

    moto writes each action in turn and puts the tables back when one fails, so a reader (reads take
    no lock) could see the writes of a transaction that is then cancelled, which DynamoDB never
    shows: a label index write computed from such a manifest could later pass its condition. Here a
    cancelled transaction writes nothing, except when a write itself fails after every condition
    passed (then the items written are put back, as moto does). A transaction whose condition fails
    reports the conditions' reasons only, not also the errors its other writes would have raised.
    """
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    kept: dict[tuple[str, str], tuple[str, dict[str, Any], Any]] = {}
    checked: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    errors: list[tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]] = []
    for action in transact_items:
        original_item: dict[str, Any] | None = None
        if len(action) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(action.items()))
            if op_type not in _TRANSACTION_ACTIONS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            if op_type == "Put":
                table = self.get_table(table_name)
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            identity = (str(table_name), str(dict(sorted(key.items()))))
            if identity in kept:
                raise MultipleTransactionsException()
            current = self.get_item(table_name, key)
            kept[identity] = (table_name, key, copy.deepcopy(current))
            condition = op.get("ConditionExpression")
            if condition is not None and not get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            ).expr(current):
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    original_item = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=original_item)
            checked.append((op_type, op, key))
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), original_item))
        except Exception as error:
            errors.append((type(error).__name__, str(error), original_item))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    for index, (op_type, op, key) in enumerate(checked):
        try:
            _write(self, op_type, op, key)
        except MockValidationException:
            _put_back(self, kept)
            raise
        except Exception as error:
            errors[index] = (type(error).__name__, str(error), None)
    if any(code is not None for code, _, _ in errors):
        _put_back(self, kept)
        raise TransactionCanceledException(errors)


def _write(backend: DynamoDBBackend, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> None:
    """One checked action's write (its condition held, and no other writer ran since)."""
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(
            op["TableName"], op["Item"], expression_attribute_names=names, expression_attribute_values=values
        )
    elif op_type == "Delete":
        backend.delete_item(
            op["TableName"], key, expression_attribute_names=names, expression_attribute_values=values
        )
    elif op_type == "Update":
        backend.update_item(
            op["TableName"],
            key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=names or {},
            expression_attribute_values=values or {},
        )


def install() -> None:
    """Make moto's DynamoDB writes atomic, and cut its per-request costs (see the module docstring)."""
    if not getattr(DynamoDBBackend.transact_write_items, "__serialised__", False):
        DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
        DynamoDBBackend.update_item = _update_item  # type: ignore[method-assign]
    serialise(DynamoDBBackend, _SERIALISED)
    LimitedSizeDict.__setitem__ = _set_within_item_limit  # type: ignore[method-assign]
    ConditionExpressionParser.parse = _parse_condition  # type: ignore[method-assign]
    DynamoType.to_regular_json = _to_regular_json  # type: ignore[method-assign]
    Item.project = _project  # type: ignore[method-assign]
    DynamoResult.execute_result = _execute_result  # type: ignore[method-assign,assignment]
    DynamoHandler.parse_parameters = _parse_parameters  # type: ignore[method-assign,assignment]
