"""Local Lambda sandboxes: each function's handler runs in its own Python process, as on Lambda.

``labeler local`` starts one sandbox process per function (``python -m labeler_tools.local.sandbox``). The
process imports the handler once (a warm container), then serves invocations on threads, so a
function's concurrent invocations share its warm clients and model as they would share a container's
globals. It runs with the function's own environment (``Environment.Variables`` as provisioned)
and fake credentials, like a Lambda that can only reach this stack: its boto3 calls, addressed to
AWS's own endpoints, travel to the stack over the sandbox's socket pair (``aws_channel``), and
moto answers them there as it answers the stack's own calls.

Why processes and not threads in the stack's process:
- A sandbox is a boundary, as on Lambda: a handler that crashes its process (a segfault in a
  decoder, ``os._exit``) fails its in-flight invocations with ``Runtime.ExitError`` and the next
  invocation gets a fresh sandbox; the stack keeps running. Each function sees only its own
  environment, as deployed.
- The stack's interpreter (moto, the ASL interpreter, the HTTP server) is bound by its GIL; the
  handlers' Python work (boto3, Powertools, image preprocessing) runs beside it, so the pipeline
  scales with cores.

Why the channel and not HTTP to the stack's moto server: over HTTP each call also cost the stack a
TCP connection, HTTP parsing and Flask's request handling (the CPU per image before and after:
``make bench``, in the README).

Wire protocol (a private socket pair, ``multiprocessing.connection`` framing, tagged tuples):
- sandbox to stack: ``("ready",)`` once its handler is imported; ``("result", request_id,
  payload_json, is_error)``; ``("aws", call_id, request)`` for each AWS call;
- stack to sandbox: ``("invoke", request_id, event, context)``; ``("aws-answer", call_id, status,
  headers, body)``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import importlib
import itertools
import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from labeler_tools.local import aws_channel
from labeler_tools.local.lambda_runtime import LambdaContext, error_payload, timed_out_payload

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction

#: How long a sandbox may take to import its handler (a cold start) before the invocation fails.
START_TIMEOUT_S = 60.0
#: Concurrent invocations one sandbox serves (threads, as many as the in-process runtime); beyond
#: this they queue in the sandbox.
THREADS_PER_SANDBOX = 64
#: Threads of the stack that answer the sandboxes' AWS calls (moto's work, under the stack's GIL).
AWS_CALL_THREADS = 16


class SandboxCrashed(RuntimeError):
    """The sandbox process died before answering."""


T = TypeVar("T")


class _AwaitedReplies(Generic[T]):
    """Requests sent over a channel and not answered yet, each waiting by id for its reply; when the
    other end hangs up, every one still waiting fails (both ends of a sandbox's channel use it)."""

    def __init__(self) -> None:
        self._waiting: dict[int, concurrent.futures.Future[T]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self.hung_up = False

    def expect(self, gone: Callable[[], Exception]) -> tuple[int, concurrent.futures.Future[T]]:
        """A new id and the future its reply fills; raises ``gone()`` if the other end hung up."""
        reply: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self.hung_up:
                raise gone()
            reply_id = next(self._ids)
            self._waiting[reply_id] = reply
        return reply_id, reply

    def forget(self, reply_id: int) -> None:
        with self._lock:
            self._waiting.pop(reply_id, None)

    def reply(self, reply_id: int, value: T) -> None:
        with self._lock:
            reply = self._waiting.pop(reply_id, None)
        if reply is not None:
            reply.set_result(value)

    def hang_up(self, gone: Callable[[], Exception]) -> None:
        """Fail every request still waiting with ``gone()``, and every later ``expect``."""
        with self._lock:
            self.hung_up = True
            waiting, self._waiting = list(self._waiting.values()), {}
        for reply in waiting:
            reply.set_exception(gone())


@dataclass
class Sandbox:
    """One running sandbox process for one handler (``module`` and ``attribute``); ``answer_aws``
    answers its AWS calls on ``aws_workers``' threads."""

    module: str
    attribute: str
    environment: Mapping[str, str]
    answer_aws: Callable[[aws_channel.Request], aws_channel.Answer]
    aws_workers: concurrent.futures.Executor
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _connection: Connection | None = field(default=None, init=False, repr=False)
    _results: _AwaitedReplies[tuple[str, bool]] = field(
        default_factory=_AwaitedReplies, init=False, repr=False
    )
    _send_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def start(self) -> Sandbox:
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(  # noqa: S603 - our own module, our interpreter
            [
                sys.executable,
                "-m",
                "labeler_tools.local.sandbox",
                self.module,
                self.attribute,
                str(theirs.fileno()),
            ],
            env=dict(self.environment),
            pass_fds=[theirs.fileno()],
        )
        theirs.close()
        self._connection = Connection(ours.detach())
        if not self._connection.poll(START_TIMEOUT_S):
            self.stop()
            raise SandboxCrashed(f"sandbox for {self.module} did not start within {START_TIMEOUT_S:.0f} s")
        try:
            self._connection.recv()  # ("ready",)
        except EOFError as error:
            self.stop()
            raise SandboxCrashed(f"sandbox for {self.module} exited while importing its handler") from error
        threading.Thread(target=self._read_messages, name=f"sandbox-{self.module}", daemon=True).start()
        return self

    @property
    def alive(self) -> bool:
        return not self._results.hung_up and self._process is not None and self._process.poll() is None

    def submit(self, event: Any, context: LambdaContext) -> concurrent.futures.Future[tuple[str, bool]]:
        """Send one invocation; the future holds (payload JSON, is_error)."""
        request_id, answer = self._results.expect(self._gone)
        try:
            self._send(("invoke", request_id, event, dataclasses.asdict(context)))
        except OSError as error:
            self._results.forget(request_id)
            raise self._gone() from error
        return answer

    def _gone(self) -> SandboxCrashed:
        return SandboxCrashed(f"sandbox for {self.module} is gone")

    def _send(self, message: tuple[Any, ...]) -> None:
        assert self._connection is not None
        with self._send_lock:
            self._connection.send(message)

    def _read_messages(self) -> None:
        assert self._connection is not None
        with contextlib.suppress(EOFError, OSError):  # the sandbox hung up
            while True:
                message = self._connection.recv()
                if message[0] == "aws":
                    self.aws_workers.submit(self._answer, *message[1:])
                    continue
                _, request_id, payload, is_error = message  # "result"
                self._results.reply(request_id, (payload, is_error))
        self._results.hang_up(
            lambda: SandboxCrashed(f"sandbox for {self.module} exited during the invocation")
        )

    def _answer(self, call_id: int, request: aws_channel.Request) -> None:
        """Answer one AWS call of the handler; an error in the stack is the call's 500, not a hang."""
        try:
            status, headers, body = self.answer_aws(request)
        except Exception as error:
            status, headers, body = 500, {}, f"{type(error).__name__}: {error}".encode()
        with contextlib.suppress(OSError):  # the sandbox is gone: _read_messages fails its invocations
            self._send(("aws-answer", call_id, status, headers, body))

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.kill()
            self._process.wait()


@dataclass
class SandboxedLambdas:
    """Runs moto Lambda functions in sandbox processes, one per function, started on first use (or
    all at once by ``LocalAws.warm_up``).

    ``modules`` maps a function name to the dotted module of its handler; ``environment`` is the base
    environment of every sandbox (region, fake credentials), to which each function's own
    ``Environment.Variables`` are added; ``answer_aws`` answers the handlers' AWS calls.
    """

    modules: Mapping[str, str]
    environment: Mapping[str, str]
    answer_aws: Callable[[aws_channel.Request], aws_channel.Answer]
    _sandboxes: dict[str, Sandbox] = field(default_factory=dict, init=False, repr=False)
    #: One per function: a cold start blocks that function's invocations only.
    _locks: dict[str, threading.Lock] = field(init=False, repr=False)
    _aws_workers: concurrent.futures.ThreadPoolExecutor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._locks = {name: threading.Lock() for name in self.modules}
        self._aws_workers = concurrent.futures.ThreadPoolExecutor(
            AWS_CALL_THREADS, thread_name_prefix="sandbox-aws"
        )

    def sandbox_for(self, function: LambdaFunction) -> Sandbox:
        """The function's running sandbox; a cold start if it has none (or its process died)."""
        name = function.function_name
        module = self.modules.get(name)
        if module is None:
            raise LookupError(f"no handler registered for Lambda function {name!r}")
        with self._locks[name]:
            sandbox = self._sandboxes.get(name)
            if sandbox is None or not sandbox.alive:
                if sandbox is not None:
                    sandbox.stop()
                sandbox = Sandbox(
                    module,
                    str(function.handler).rsplit(".", 1)[-1],
                    {**self.environment, **function.environment_vars},
                    self.answer_aws,
                    self._aws_workers,
                ).start()
                self._sandboxes[name] = sandbox
            return sandbox

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        context = LambdaContext.for_invocation(function)
        try:
            payload, is_error = self.sandbox_for(function).submit(event, context).result(context.timeout_s)
        except concurrent.futures.TimeoutError:
            return json.dumps(timed_out_payload(context.timeout_s)), True, ""
        except SandboxCrashed as crash:
            return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": str(crash)}), True, ""
        return payload, is_error, ""

    def stop(self) -> None:
        for name, lock in self._locks.items():
            with lock:
                sandbox = self._sandboxes.pop(name, None)
            if sandbox is not None:
                sandbox.stop()
        self._aws_workers.shutdown(cancel_futures=True)


def serve(module: str, attribute: str, fd: int) -> None:
    """The sandbox process: import the handler, then answer invocations until the stack hangs up."""
    # Ctrl-C in a terminal reaches the whole process group: the stack drains its running executions
    # first, so its sandboxes keep answering until it hangs up (or kills them).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    connection = Connection(fd)
    send_lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with send_lock:
            connection.send(message)

    # Before the handler's import creates any client: its calls go to the stack over the channel,
    # each handler thread waiting for its answer, which this (main) thread receives.
    answers: _AwaitedReplies[aws_channel.Answer] = _AwaitedReplies()

    def stack_gone() -> ConnectionError:
        return ConnectionError("the local stack hung up")

    def call_stack(request: aws_channel.Request) -> aws_channel.Answer:
        call_id, answer = answers.expect(stack_gone)
        send(("aws", call_id, request))
        return answer.result()

    aws_channel.sign_headers_only()
    aws_channel.forward_requests(call_stack)
    handler = getattr(importlib.import_module(module), attribute)
    send(("ready",))

    def invoke(request_id: int, event: Any, context_fields: dict[str, Any]) -> None:
        context = LambdaContext(**context_fields)
        try:
            answer = ("result", request_id, json.dumps(handler(event, context)), False)
        except Exception as error:  # every handler error becomes a Lambda error payload
            answer = ("result", request_id, json.dumps(error_payload(error)), True)
        send(answer)

    with concurrent.futures.ThreadPoolExecutor(THREADS_PER_SANDBOX, thread_name_prefix="invocation") as pool:
        while True:
            try:
                kind, *fields = connection.recv()
            except (EOFError, OSError):
                answers.hang_up(stack_gone)
                return
            if kind == "aws-answer":
                call_id, status, headers, body = fields
                answers.reply(call_id, (status, headers, body))
            else:  # "invoke"
                pool.submit(invoke, *fields)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
