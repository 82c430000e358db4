"""labeler_tools.local.hooks.utilities: what several services' hooks share."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_copy_json_tree_copies_like_deepcopy() -> None:
    from labeler_tools.local.hooks.utilities import copy_json_tree

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
