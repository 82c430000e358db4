"""What several services' hooks share: one lock per backend around chosen methods, and a deepcopy
for JSON trees (the ASL interpreter's state, DynamoDB's stored attributes)."""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any


def serialise(backend: type, names: Iterable[str]) -> None:
    """Run the methods ``names`` of ``backend`` under one lock shared by them (a reentrant one: a
    serialised method may call another). A method serialised already is left as it is."""
    lock = threading.RLock()
    for name in names:
        method = getattr(backend, name)
        if getattr(method, "__serialised__", False):
            continue

        def serialised(
            *args: Any, __method: Callable[..., Any] = method, __lock: Any = lock, **kwargs: Any
        ) -> Any:
            with __lock:
                return __method(*args, **kwargs)

        wrapped = functools.wraps(method)(serialised)
        wrapped.__serialised__ = True  # type: ignore[attr-defined]
        setattr(backend, name, wrapped)


_JSON_SCALARS = (str, int, float, bool, type(None))


def copy_json_tree(value: Any) -> Any:
    """``copy.deepcopy`` for JSON documents (dicts, lists, scalars); anything else goes to deepcopy."""
    kind = type(value)
    if kind is dict:
        return {key: copy_json_tree(item) for key, item in value.items()}
    if kind is list:
        return [copy_json_tree(item) for item in value]
    if kind in _JSON_SCALARS:
        return value
    return copy.deepcopy(value)
