"""The thin handlers called directly, as Lambda calls them: typed input, logs and metrics."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import functions.backfill.handler as backfill_handler
import functions.validate.handler as validate_handler
from labeler.backfill import BackfillRun
from labeler.errors import BackfillItemFailed, ImageRejected
from labeler.observability import logger
from labeler_tools.deployment import LocalResources
from labeler_tools.local import runner
from labeler_tools.local.lambda_runtime import LambdaContext
from labeler_tools.local.server import LocalAws
from labeler_tools.samples import photo_like
from tests.conftest import drain_executions

pytestmark = pytest.mark.integration


def _context(name: str) -> LambdaContext:
    return LambdaContext(
        function_name=name,
        memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:::function:{name}",
        timeout_s=20,
    )


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def structured_logs() -> Iterator[list[dict[str, Any]]]:
    """The JSON lines the Powertools logger writes during the test, formatted by its own formatter."""
    collect = _Collect()
    collect.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(collect)
    yield collect.lines
    logger._logger.removeHandler(collect)


def _request(event: dict[str, Any]) -> dict[str, Any]:
    """What the Validate state sends: the S3 event and the execution it runs in."""
    return {"upload": event, "execution": {"id": "arn:aws:states:us-east-1:123456789012:execution:sm:test"}}


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_validate_logs_with_the_upload_request_id_and_emits_a_metric(
    local_aws: LocalAws,
    stack: LocalResources,
    owner: str,
    structured_logs: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Metrics are buffered per process: a validate of another test's execution still running would
    # add its own count to this invocation's.
    drain_executions(local_aws.session(), stack)
    s3 = local_aws.session().client("s3")
    event = runner.upload(
        s3, stack.upload_bucket, f"uploads/{owner}/a b+c.png", photo_like(90, 120, image_format="PNG")
    )

    result = validate_handler.lambda_handler(_request(event), _context("validate"))

    assert (result["format"], result["width"], result["height"]) == ("PNG", 90, 120)
    assert result["object"]["key"] == f"uploads/{owner}/a b+c.png"
    (log,) = [line for line in structured_logs if line.get("message") == "image validated"]
    assert log["correlation_id"] == event["detail"]["request-id"]
    assert log["bytes_read"] == result["object"]["size"]
    (emf,) = [line for line in _json_lines(capsys.readouterr().out) if "_aws" in line]
    assert emf["ImagesValidated"] == [1.0]


def test_validate_raises_the_typed_rejection(local_aws: LocalAws, stack: LocalResources, owner: str) -> None:
    s3 = local_aws.session().client("s3")
    event = runner.upload(s3, stack.upload_bucket, f"uploads/{owner}/x.jpg", b"GIF89a" + b"\x00" * 64)

    with pytest.raises(ImageRejected, match="GIF"):
        validate_handler.lambda_handler(_request(event), _context("validate"))


def test_a_failed_backfill_item_is_counted_apart_from_other_errors(
    local_aws: LocalAws, stack: LocalResources, owner: str, capsys: pytest.CaptureFixture[str]
) -> None:
    drain_executions(local_aws.session(), stack)
    run = BackfillRun(name="settle-1", bucket=stack.upload_bucket)
    request = {
        "action": "settle",
        "run": run.model_dump(mode="json"),
        "item": {"key": f"uploads/{owner}/a.jpg"},
    }

    with pytest.raises(BackfillItemFailed, match="no record"):
        backfill_handler.lambda_handler(request, _context("backfill"))

    (emf,) = [line for line in _json_lines(capsys.readouterr().out) if "_aws" in line]
    assert emf["BackfillItemsFailed"] == [1.0]
