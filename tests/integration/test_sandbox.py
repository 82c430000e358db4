"""Local Lambda sandboxes (labeler_tools.local.sandbox): real processes running real handler modules."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest

from labeler.blueprint import REPO_ROOT
from labeler_tools.local import aws_channel
from labeler_tools.local.sandbox import SandboxedLambdas

MODULE = "tests.integration.sandbox_handlers"


def _function(attribute: str, timeout_s: int = 30, **environment: str) -> Any:
    """What the sandboxes read from a moto LambdaFunction."""
    return SimpleNamespace(
        function_name=f"test-{attribute}",
        handler=f"sandbox_handlers.{attribute}",
        memory_size=128,
        function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:test-{attribute}",
        timeout=timeout_s,
        environment_vars=environment,
    )


class FakeStack:
    """Answers the sandboxes' AWS calls as the stack would, and keeps what it was asked."""

    def __init__(self) -> None:
        self.requests: list[aws_channel.Request] = []
        self.fail = False

    def answer(self, request: aws_channel.Request) -> aws_channel.Answer:
        self.requests.append(request)
        if self.fail:
            raise RuntimeError("the stack broke")
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, b'{"TableNames": ["from-the-stack"]}'


@pytest.fixture
def fake_stack() -> FakeStack:
    return FakeStack()


@pytest.fixture
def lambdas(fake_stack: FakeStack) -> Iterator[SandboxedLambdas]:
    names = ["describe", "refuse", "hold", "crash_if_asked", "list_tables"]
    environment = {
        **{key: value for key, value in os.environ.items() if key != "AWS_ENDPOINT_URL"},
        "PYTHONPATH": str(REPO_ROOT),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    runtime = SandboxedLambdas({f"test-{name}": MODULE for name in names}, environment, fake_stack.answer)
    yield runtime
    runtime.stop()


def _invoke(lambdas: SandboxedLambdas, function: Any, event: Any) -> tuple[Any, bool]:
    payload, is_error, _ = lambdas.invoke(function, event)
    return json.loads(payload), is_error


def test_a_handler_runs_warm_in_its_own_process_with_its_function_environment(
    lambdas: SandboxedLambdas,
) -> None:
    function = _function("describe", GREETING="hello")

    first, first_failed = _invoke(lambdas, function, {"n": 1})
    second, _ = _invoke(lambdas, function, {"n": 2})

    assert not first_failed
    assert first["event"] == {"n": 1} and second["event"] == {"n": 2}
    assert first["pid"] != os.getpid()
    assert second["pid"] == first["pid"]  # the warm sandbox is reused
    assert first["function"] == "test-describe"
    assert 0 < first["remaining_ms"] <= 30_000
    assert first["greeting"] == "hello"  # the function's own Environment.Variables


def test_a_handler_error_is_a_lambda_error_payload_named_after_its_class(lambdas: SandboxedLambdas) -> None:
    payload, is_error = _invoke(lambdas, _function("refuse"), {"width": 50})

    assert is_error
    assert payload["errorType"] == "ImageTooSmall"  # what the ASL's Retry and Catch match
    assert payload["errorMessage"] == "50 px is too small"
    assert payload["stackTrace"]


def test_concurrent_invocations_of_one_function_run_side_by_side(lambdas: SandboxedLambdas) -> None:
    function = _function("hold")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: _invoke(lambdas, function, {"seconds": 0.5})[0], range(4)))

    assert len({answer["pid"] for answer in answers}) == 1
    # every invocation started before any of them ended: they overlapped instead of queueing
    assert max(answer["started"] for answer in answers) < min(answer["ended"] for answer in answers)


def test_a_handlers_aws_calls_reach_the_stack_over_the_channel_signed_with_headers_only(
    lambdas: SandboxedLambdas, fake_stack: FakeStack
) -> None:
    answer, is_error = _invoke(lambdas, _function("list_tables"), {})

    assert not is_error
    assert answer == {"tables": ["from-the-stack"]}  # botocore parsed the stack's answer
    [(method, url, headers, body)] = fake_stack.requests  # no endpoint is configured: nothing else answers
    assert (method, url) == ("POST", "https://dynamodb.us-east-1.amazonaws.com/")
    sent = {name.lower(): value.decode() if isinstance(value, bytes) else value for name, value in headers}
    assert sent["x-amz-target"] == "DynamoDB_20120810.ListTables"
    assert sent["authorization"].startswith("AWS4-HMAC-SHA256 Credential=local/")
    assert sent["authorization"].endswith("Signature=in-process")
    assert body == b"{}"


def test_an_error_in_the_stack_is_the_calls_500_and_the_sandbox_keeps_serving(
    lambdas: SandboxedLambdas, fake_stack: FakeStack
) -> None:
    fake_stack.fail = True
    failed, _ = _invoke(lambdas, _function("list_tables"), {})
    fake_stack.fail = False
    answered, _ = _invoke(lambdas, _function("list_tables"), {})

    assert failed == {"status": 500}
    assert answered == {"tables": ["from-the-stack"]}


def test_an_invocation_past_its_timeout_answers_sandbox_timedout(lambdas: SandboxedLambdas) -> None:
    payload, is_error = _invoke(lambdas, _function("hold", timeout_s=1), {"seconds": 5})

    assert is_error
    assert payload == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"}


def test_a_crashed_sandbox_fails_its_invocation_and_the_next_one_gets_a_fresh_sandbox(
    lambdas: SandboxedLambdas,
) -> None:
    function = _function("crash_if_asked")
    before, _ = _invoke(lambdas, function, {"crash": False})

    crashed, is_error = _invoke(lambdas, function, {"crash": True})
    after, failed = _invoke(lambdas, function, {"crash": False})

    assert is_error
    assert crashed["errorType"] == "Runtime.ExitError"
    assert not failed
    assert after != before  # a new process


def test_stop_ends_every_sandbox_process(lambdas: SandboxedLambdas) -> None:
    function = _function("describe")
    _invoke(lambdas, function, {})
    sandbox = lambdas.sandbox_for(function)
    assert sandbox.alive

    lambdas.stop()

    assert not sandbox.alive


def test_a_hang_up_fails_every_request_still_waiting_and_every_later_one() -> None:
    from labeler_tools.local.sandbox import _AwaitedReplies

    replies: _AwaitedReplies[str] = _AwaitedReplies()
    answered_id, answered = replies.expect(lambda: ConnectionError("gone"))
    waiting_id, waiting = replies.expect(lambda: ConnectionError("gone"))
    assert answered_id != waiting_id
    replies.reply(answered_id, "answer")
    replies.reply(answered_id, "a second answer is ignored")

    replies.hang_up(lambda: ConnectionError("hung up"))

    assert answered.result() == "answer"
    with pytest.raises(ConnectionError, match="hung up"):
        waiting.result()
    with pytest.raises(ConnectionError, match="gone"):
        replies.expect(lambda: ConnectionError("gone"))
