"""Local Lambda sandboxes: each invocation runs in a sandbox process of its own function, as on Lambda.

A sandbox (``python -m labeler_tools.local.sandbox``) is one execution environment: it imports its
handler once (the init phase), then runs one invocation at a time, in its main thread, with the
function's own environment (``Environment.Variables`` as provisioned) and fake credentials, like a
Lambda that can only reach this stack. Each function has a pool of them (``SandboxPool``): an
invocation takes an idle sandbox, or starts one (a cold start) while the pool is below its limit (the
local analogue of reserved concurrency), or waits for one to come free; sandboxes idle for a while are
stopped, down to one warm sandbox per function.

Why processes and not threads in the stack's process:
- A sandbox is a boundary, as on Lambda: a handler that crashes its process (a segfault in a
  decoder, ``os._exit``) fails the one invocation it was running with ``Runtime.ExitError``; the next
  invocation gets another sandbox, and the stack keeps running. Past its timeout an invocation's
  sandbox is killed, as Lambda ends a timed-out environment.
- Handlers need not be thread-safe: a process's globals (clients, the model, Powertools' log keys and
  metrics buffer) serve one invocation at a time, as on Lambda.
- The stack's interpreter (moto, the ASL interpreter, the HTTP server) is bound by its GIL; the
  handlers' Python work (boto3, Powertools, image preprocessing) runs beside it, so the pipeline
  scales with cores.

A handler's boto3 calls, addressed to AWS's own endpoints, travel to the stack over the sandbox's
socket pair (``aws_channel``), and the stack's thread that runs the invocation answers them with moto's
backends, as moto answers the stack's own calls. Over HTTP each call also cost the stack a TCP
connection, HTTP parsing and Flask's request handling.

Wire protocol (a private socket pair, ``multiprocessing.connection`` framing, tagged tuples, strictly
one request and its answer at a time):
- sandbox to stack: ``("ready",)`` once its handler is imported; ``("aws", request)`` for each AWS
  call; ``("result", payload_json, is_error)`` at the end of an invocation;
- stack to sandbox: ``("invoke", event, context)``; ``("aws-answer", status, headers, body)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from labeler_tools.local import aws_channel
from labeler_tools.local.lambda_runtime import LambdaContext, error_payload, timed_out_payload

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction

#: How long a sandbox may take to import its handler (a cold start) before the invocation fails.
START_TIMEOUT_S = 60.0
#: Sandboxes one function may run at once, unless ``SandboxedLambdas`` is told otherwise: one per CPU,
#: since the handlers' work is CPU (theirs, or the stack's answering their calls).
DEFAULT_SANDBOXES_PER_FUNCTION = max(1, os.cpu_count() or 1)
#: A sandbox idle this long is stopped (the pool keeps one per function warm).
DEFAULT_IDLE_S = 60.0
#: How long an invocation waits for a busy sandbox before the pool starts another: a cold start costs
#: this machine a second or more of CPU that the running invocations need, a short wait a few ms.
DEFAULT_GROW_AFTER_S = 0.1


class SandboxCrashed(RuntimeError):
    """The sandbox process died (or never started) before answering."""


class SandboxTimedOut(RuntimeError):
    """The invocation ran past its function's timeout; its sandbox was killed."""


@dataclass
class Sandbox:
    """One sandbox process for one handler (``module`` and ``attribute``); ``answer_aws`` answers its
    AWS calls."""

    module: str
    attribute: str
    environment: Mapping[str, str]
    answer_aws: Callable[[aws_channel.Request], aws_channel.Answer]
    #: When its last invocation ended (``time.monotonic``).
    idle_since: float = field(default=0.0, init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _connection: Connection | None = field(default=None, init=False, repr=False)
    #: Waits for the sandbox's next message (``Connection.poll`` builds a selector at every call).
    _readable: select.poll = field(default_factory=select.poll, init=False, repr=False)

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
        self._readable.register(self._connection.fileno(), select.POLLIN)
        if not self._connection.poll(START_TIMEOUT_S):
            self.stop()
            raise SandboxCrashed(f"sandbox for {self.module} did not start within {START_TIMEOUT_S:.0f} s")
        try:
            self._connection.recv()  # ("ready",)
        except EOFError as error:
            self.stop()
            raise SandboxCrashed(f"sandbox for {self.module} exited while importing its handler") from error
        return self

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def alive(self) -> bool:
        return (
            self._connection is not None
            and not self._connection.closed
            and self._process is not None
            and self._process.poll() is None
        )

    def invoke(self, event: Any, context: LambdaContext) -> tuple[str, bool]:
        """Run one invocation to its end, answering the handler's AWS calls on this thread meanwhile:
        (payload JSON, is_error). Raises SandboxTimedOut past ``context``'s deadline (the sandbox is
        then stopped) and SandboxCrashed if the process died."""
        assert self._connection is not None
        connection = self._connection
        deadline = time.monotonic() + context.timeout_s
        try:
            connection.send(("invoke", event, dataclasses.asdict(context)))
            while True:
                if not self._readable.poll(max(0, int((deadline - time.monotonic()) * 1000))):
                    self.stop()
                    raise SandboxTimedOut(f"sandbox for {self.module} ran past {context.timeout_s} s")
                kind, *fields = connection.recv()
                if kind == "result":
                    payload, is_error = fields
                    return payload, is_error
                connection.send(("aws-answer", *self._answer(fields[0])))  # "aws"
        except (EOFError, OSError) as error:
            self.stop()
            raise SandboxCrashed(f"sandbox for {self.module} exited during the invocation") from error

    def _answer(self, request: aws_channel.Request) -> aws_channel.Answer:
        """moto's answer to one AWS call of the handler; an error in the stack is the call's 500."""
        try:
            return self.answer_aws(request)
        except Exception as error:
            return 500, {}, f"{type(error).__name__}: {error}".encode()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.kill()
            self._process.wait()


@dataclass
class SandboxPool:
    """One function's sandboxes, each running one invocation at a time: ``acquire`` hands out an idle
    one (the most recently used, the warmest), or waits for one to be released; past ``grow_after_s``
    of waiting it starts one, while fewer than ``limit`` run (the first one at once). Unlike Lambda,
    which starts an environment whenever none is free, a brief burst is served by the warm ones."""

    limit: int
    grow_after_s: float = DEFAULT_GROW_AFTER_S
    _idle: list[Sandbox] = field(default_factory=list, init=False)
    _members: list[Sandbox] = field(default_factory=list, init=False)
    _starting: int = field(default=0, init=False)
    _stopped: bool = field(default=False, init=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"a sandbox pool needs a limit of at least 1, not {self.limit}")

    @property
    def size(self) -> int:
        """Sandboxes running (idle or busy) or starting."""
        with self._changed:
            return len(self._members) + self._starting

    def acquire(self, launch: Callable[[], Sandbox]) -> Sandbox:
        """A sandbox for one invocation, to be given back with ``release``; ``launch`` starts a new
        one (raising SandboxCrashed if it cannot)."""
        grow_at = time.monotonic() + self.grow_after_s
        with self._changed:
            while True:
                if self._stopped:
                    raise SandboxCrashed("the local stack is stopping")
                while self._idle:
                    sandbox = self._idle.pop()
                    if sandbox.alive:
                        return sandbox
                    self._members.remove(sandbox)  # died while idle (killed from outside)
                size = len(self._members) + self._starting
                waited_enough = time.monotonic() >= grow_at
                if size < self.limit and (size == 0 or waited_enough):
                    self._starting += 1
                    break
                self._changed.wait(
                    None if size >= self.limit or waited_enough else grow_at - time.monotonic()
                )
        try:
            sandbox = launch()
        except BaseException:
            with self._changed:
                self._starting -= 1
                self._changed.notify()
            raise
        with self._changed:
            self._starting -= 1
            self._members.append(sandbox)
        if self._stopped:  # stopped while this one started
            self.release(sandbox)
            raise SandboxCrashed("the local stack is stopping")
        return sandbox

    def release(self, sandbox: Sandbox) -> None:
        with self._changed:
            kept = sandbox.alive and not self._stopped
            if kept:
                sandbox.idle_since = time.monotonic()
                self._idle.append(sandbox)
            elif sandbox in self._members:
                self._members.remove(sandbox)
            self._changed.notify()
        if not kept:
            sandbox.stop()

    def shrink(self, idle_s: float, keep: int = 1) -> int:
        """Stop the sandboxes idle for more than ``idle_s``, keeping ``keep`` running; how many stopped."""
        now = time.monotonic()
        with self._changed:
            removable = max(0, min(len(self._idle), len(self._members) - keep))
            stale = [sandbox for sandbox in self._idle[:removable] if now - sandbox.idle_since > idle_s]
            for sandbox in stale:  # the oldest first: _idle is in release order
                self._idle.remove(sandbox)
                self._members.remove(sandbox)
        for sandbox in stale:
            sandbox.stop()
        return len(stale)

    def pids(self) -> list[int]:
        with self._changed:
            return [sandbox.pid for sandbox in self._members if sandbox.pid is not None]

    def stop(self) -> None:
        """Stop every sandbox, busy ones too (their invocations fail with SandboxCrashed)."""
        with self._changed:
            self._stopped = True
            members, self._members, self._idle = self._members, [], []
            self._changed.notify_all()  # invocations waiting for a sandbox fail
        for sandbox in members:
            sandbox.stop()


@dataclass
class SandboxedLambdas:
    """Runs moto Lambda functions in pools of sandbox processes, one pool per function; a function's
    first sandbox starts on its first invocation (or for all of them at once: ``warm_up``).

    ``modules`` maps a function name to the dotted module of its handler; ``environment`` is the base
    environment of every sandbox (region, fake credentials), to which each function's own
    ``Environment.Variables`` are added; ``answer_aws`` answers the handlers' AWS calls.
    ``sandboxes_per_function`` bounds each pool (``limits`` overrides it for some functions); beyond
    it an invocation waits for a free sandbox (where Lambda would throttle it and the state machine
    back off). Sandboxes idle for ``idle_s`` are stopped, down to one per function.
    """

    modules: Mapping[str, str]
    environment: Mapping[str, str]
    answer_aws: Callable[[aws_channel.Request], aws_channel.Answer]
    sandboxes_per_function: int = DEFAULT_SANDBOXES_PER_FUNCTION
    limits: Mapping[str, int] = field(default_factory=dict)
    idle_s: float = DEFAULT_IDLE_S
    _pools: dict[str, SandboxPool] = field(init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def __post_init__(self) -> None:
        self._pools = {
            name: SandboxPool(self.limits.get(name, self.sandboxes_per_function)) for name in self.modules
        }
        threading.Thread(target=self._shrink_idle_pools, name="sandbox-shrink", daemon=True).start()

    def pool(self, function_name: str) -> SandboxPool:
        pool = self._pools.get(function_name)
        if pool is None:
            raise LookupError(f"no handler registered for Lambda function {function_name!r}")
        return pool

    def _launch(self, function: LambdaFunction) -> Sandbox:
        return Sandbox(
            self.modules[function.function_name],
            str(function.handler).rsplit(".", 1)[-1],
            {**self.environment, **function.environment_vars},
            self.answer_aws,
        ).start()

    def warm_up(self, functions: list[LambdaFunction]) -> None:
        """One sandbox per function, started in parallel, so that no invocation waits for a cold start."""
        started = [threading.Thread(target=self._start_one, args=(function,)) for function in functions]
        for thread in started:
            thread.start()
        for thread in started:
            thread.join()

    def _start_one(self, function: LambdaFunction) -> None:
        pool = self.pool(function.function_name)
        pool.release(pool.acquire(lambda: self._launch(function)))

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        pool = self.pool(function.function_name)
        try:
            sandbox = pool.acquire(lambda: self._launch(function))
        except SandboxCrashed as crash:
            return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": str(crash)}), True, ""
        context = LambdaContext.for_invocation(function)
        try:
            payload, is_error = sandbox.invoke(event, context)
        except SandboxTimedOut:
            return json.dumps(timed_out_payload(context.timeout_s)), True, ""
        except SandboxCrashed as crash:
            return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": str(crash)}), True, ""
        finally:
            pool.release(sandbox)
        return payload, is_error, ""

    def _shrink_idle_pools(self) -> None:
        while not self._stopping.wait(max(0.1, self.idle_s / 4)):
            for pool in self._pools.values():
                pool.shrink(self.idle_s)

    def pids(self) -> dict[str, list[int]]:
        """Each function's sandbox processes."""
        return {name: pool.pids() for name, pool in self._pools.items()}

    def stop(self) -> None:
        self._stopping.set()
        for pool in self._pools.values():
            pool.stop()


def serve(module: str, attribute: str, fd: int) -> None:
    """The sandbox process: import the handler, then run invocations one at a time until the stack
    hangs up."""
    # Ctrl-C in a terminal reaches the whole process group: the stack drains its running executions
    # first, so its sandboxes keep answering until it hangs up (or kills them).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    connection = Connection(fd)

    def call_stack(request: aws_channel.Request) -> aws_channel.Answer:
        connection.send(("aws", request))
        _, status, headers, body = connection.recv()  # ("aws-answer", ...)
        return status, headers, body

    # Before the handler's import creates any client: its calls go to the stack over the channel.
    aws_channel.sign_headers_only()
    aws_channel.forward_requests(call_stack)
    handler = getattr(importlib.import_module(module), attribute)
    connection.send(("ready",))
    with contextlib.suppress(EOFError, OSError):  # the stack hung up
        while True:
            _, event, context_fields = connection.recv()  # ("invoke", ...)
            try:
                answer = ("result", json.dumps(handler(event, LambdaContext(**context_fields))), False)
            except Exception as error:  # every handler error becomes a Lambda error payload
                answer = ("result", json.dumps(error_payload(error)), True)
            connection.send(answer)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
