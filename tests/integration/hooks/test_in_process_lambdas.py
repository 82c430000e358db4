"""labeler_tools.local.in_process_lambdas: the tests' Lambda runtime, handlers called in this process."""

from __future__ import annotations

import json

import pytest

from labeler_tools.deployment import LocalResources
from labeler_tools.local.server import LocalAws
from tests.conftest import NAMES

pytestmark = pytest.mark.integration


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
