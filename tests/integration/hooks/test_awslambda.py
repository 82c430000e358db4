"""Contract tests for labeler_tools.local.hooks.awslambda: Lambda Invoke runs our runtime, not Docker."""

from __future__ import annotations

import json

import pytest
from moto.awslambda.models import LambdaFunction

from labeler_tools.deployment import LocalResources
from labeler_tools.local.server import LocalAws
from tests.conftest import NAMES

pytestmark = pytest.mark.integration


def test_invoke_runs_the_real_handler_in_process(local_aws: LocalAws, stack: LocalResources) -> None:
    assert LambdaFunction._invoke_lambda.__module__ == "labeler_tools.local.hooks.awslambda"
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
