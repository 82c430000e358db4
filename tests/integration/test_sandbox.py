"""Local Lambda sandboxes (labeler_tools.local.sandbox): real processes running real handler modules."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from labeler.blueprint import REPO_ROOT
from labeler_tools.local import aws_channel
from labeler_tools.local.process import child_pids
from labeler_tools.local.sandbox import SandboxedLambdas

MODULE = "tests.integration.sandbox_handlers"
#: Each test function's sandbox limit.
LIMIT = 3


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


def _environment() -> dict[str, str]:
    return {
        **{key: value for key, value in os.environ.items() if key != "AWS_ENDPOINT_URL"},
        "PYTHONPATH": str(REPO_ROOT),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }


@pytest.fixture
def lambdas(fake_stack: FakeStack) -> Iterator[SandboxedLambdas]:
    names = ["describe", "refuse", "hold", "meet", "crash_if_asked", "list_tables"]
    runtime = SandboxedLambdas(
        {f"test-{name}": MODULE for name in names}, _environment(), fake_stack.answer, LIMIT
    )
    yield runtime
    runtime.stop()


def _meet(lambdas: SandboxedLambdas, folder: Path, n: int) -> list[Any]:
    """n invocations of ``meet`` at once; each answers only once all n run."""
    folder.mkdir(exist_ok=True)
    function = _function("meet")
    with ThreadPoolExecutor(n) as pool:
        answers = list(
            pool.map(lambda _: _invoke(lambdas, function, {"folder": str(folder), "n": n}), range(n))
        )
    assert [is_error for _, is_error in answers] == [False] * n, answers
    return [answer for answer, _ in answers]


def _processes_running(module: str) -> list[int]:
    """This process's descendants that run ``module`` (sandbox templates and their sandboxes)."""
    return [
        pid
        for pid in child_pids(os.getpid())
        if module.encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    ]


def _gone(pids: set[int], timeout_s: float = 10) -> bool:
    """Whether none of these processes runs any more within ``timeout_s`` (children of this one,
    reaped when stopped, which can end just after the call that stops them returned)."""
    deadline = time.monotonic() + timeout_s
    while any(Path(f"/proc/{pid}").exists() for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


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


def test_concurrent_invocations_each_get_a_sandbox_of_their_own_up_to_the_limit(
    lambdas: SandboxedLambdas, tmp_path: Path
) -> None:
    answers = _meet(lambdas, tmp_path, LIMIT)

    assert len({answer["pid"] for answer in answers}) == LIMIT  # they ran at once, one per process
    assert lambdas.pool("test-meet").size == LIMIT


def test_sandboxes_are_forked_warm_from_one_template_that_ran_the_init_phase(
    lambdas: SandboxedLambdas, tmp_path: Path
) -> None:
    answers = _meet(lambdas, tmp_path, LIMIT)

    [template] = {answer["init_pid"] for answer in answers}  # the handler module was imported once
    assert template not in {answer["pid"] for answer in answers}
    assert template in _processes_running(MODULE)


def test_a_dead_template_is_replaced_when_the_pool_next_grows(
    lambdas: SandboxedLambdas, tmp_path: Path
) -> None:
    [first] = _meet(lambdas, tmp_path / "one", 1)
    os.kill(first["init_pid"], signal.SIGKILL)

    answers = _meet(lambdas, tmp_path / "two", 2)  # one more sandbox than the pool has

    assert len({answer["init_pid"] for answer in answers} - {first["init_pid"]}) == 1  # a new template
    assert first["pid"] in {answer["pid"] for answer in answers}  # the sandbox outlived its template


def test_beyond_the_limit_an_invocation_waits_for_a_free_sandbox(lambdas: SandboxedLambdas) -> None:
    function = _function("hold")
    with ThreadPoolExecutor(2 * LIMIT) as pool:
        answers = list(pool.map(lambda _: _invoke(lambdas, function, {"seconds": 0.3})[0], range(2 * LIMIT)))

    assert len({answer["pid"] for answer in answers}) <= LIMIT
    for answer in answers:  # never more than LIMIT at once
        running = [other for other in answers if other["started"] <= answer["started"] < other["ended"]]
        assert len(running) <= LIMIT


def test_idle_sandboxes_are_stopped_down_to_one_per_function(fake_stack: FakeStack, tmp_path: Path) -> None:
    runtime = SandboxedLambdas({"test-meet": MODULE}, _environment(), fake_stack.answer, LIMIT, idle_s=0.2)
    try:
        _meet(runtime, tmp_path, LIMIT)
        started = runtime.pool("test-meet").pids()
        assert len(started) == LIMIT

        deadline = time.monotonic() + 10
        while runtime.pool("test-meet").size > 1:
            assert time.monotonic() < deadline, runtime.pool("test-meet").pids()
            time.sleep(0.05)

        [kept] = runtime.pool("test-meet").pids()
        assert kept in started
        assert _gone(set(started) - {kept})
    finally:
        runtime.stop()


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


def test_an_invocation_past_its_timeout_answers_sandbox_timedout_and_its_sandbox_is_stopped(
    lambdas: SandboxedLambdas,
) -> None:
    function = _function("hold", timeout_s=1)
    first, _ = _invoke(lambdas, function, {"seconds": 0})

    payload, is_error = _invoke(lambdas, function, {"seconds": 5})
    after, _ = _invoke(lambdas, function, {"seconds": 0})

    assert is_error
    assert payload == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"}
    assert _gone({first["pid"]})  # Lambda ends a timed-out environment
    assert after["pid"] != first["pid"]


def test_a_crashed_sandbox_fails_only_the_invocation_it_was_running(
    lambdas: SandboxedLambdas, tmp_path: Path
) -> None:
    function = _function("crash_if_asked")
    together = {"folder": str(tmp_path), "n": 3}  # all three run at once before one crashes
    events = [{"crash": True, **together}, *[{"crash": False, **together}] * 2]
    with ThreadPoolExecutor(len(events)) as pool:
        (crashed, crash_failed), *others = pool.map(lambda event: _invoke(lambdas, function, event), events)
    after, failed = _invoke(lambdas, function, {"crash": False})

    assert crash_failed and crashed["errorType"] == "Runtime.ExitError"
    assert [is_error for _, is_error in others] == [False, False]  # the invocations beside it finished
    survivors = {pid for pid, _ in others}
    assert len(survivors) == 2
    assert not failed and after in survivors  # the next invocation runs in a live sandbox
    assert sorted(lambdas.pool(function.function_name).pids()) == sorted(survivors)


def test_stop_ends_every_sandbox_process(lambdas: SandboxedLambdas) -> None:
    function = _function("hold")
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: _invoke(lambdas, function, {"seconds": 0.2}), range(2)))
    pids = lambdas.pool(function.function_name).pids()
    assert len(pids) == 2

    lambdas.stop()

    assert _gone(set(pids))
    assert _gone(set(_processes_running(MODULE)))  # the function's template too


def test_stop_fails_the_invocations_running_or_waiting_and_leaves_no_process(fake_stack: FakeStack) -> None:
    runtime = SandboxedLambdas({"test-hold": MODULE}, _environment(), fake_stack.answer, 1)
    function = _function("hold")
    with ThreadPoolExecutor(2) as pool:
        invocations = [pool.submit(_invoke, runtime, function, {"seconds": 30}) for _ in range(2)]
        deadline = time.monotonic() + 30
        while not (pids := runtime.pool("test-hold").pids()):  # the first one runs, the second waits
            assert time.monotonic() < deadline
            time.sleep(0.02)
        runtime.stop()
        answers = [invocation.result(timeout=10) for invocation in invocations]

    assert [(payload["errorType"], is_error) for payload, is_error in answers] == [
        ("Runtime.ExitError", True)
    ] * 2
    assert _gone(set(pids))
    assert runtime.pool("test-hold").size == 0
