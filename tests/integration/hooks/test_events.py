"""Contract tests for labeler_tools.local.hooks.events: a moto upgrade that moves the rule delivery we
replace fails here."""

from __future__ import annotations

import inspect

import pytest

from labeler_tools.local.server import LocalAws

pytestmark = pytest.mark.integration


def test_rule_delivery_signature_is_what_the_hook_replaces(local_aws: LocalAws) -> None:
    from moto.events.models import Rule

    from labeler_tools.local.hooks import events

    original = inspect.signature(events._ORIGINAL_SEND_TO_TARGETS)
    assert list(original.parameters) == ["self", "original_event", "transform_input"]
    assert "NotImplementedError" in inspect.getsource(events._ORIGINAL_SEND_TO_TARGETS)
    assert Rule.send_to_targets is events._send_to_targets  # installed by LocalAws
