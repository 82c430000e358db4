"""Local Lambda sandboxes: each invocation runs in a sandbox process of its own function, as on Lambda.

A sandbox is one execution environment: it runs one invocation at a time, in its main thread, with
the function's own environment (``Environment.Variables`` as provisioned) and fake credentials, like
a Lambda that can only reach this stack. Each function has a template process
(``python -m labeler_tools.local.sandbox``) that imports the handler once (the init phase) and then
forks a sandbox whenever the stack needs one: a sandbox starts warm in milliseconds and shares the
template's memory (the model's weights, the imported modules) until it writes to it. Each function
also has a pool of sandboxes (``SandboxPool``): an invocation takes an idle sandbox, or has one forked
while the pool is below its limit (the local analogue of reserved concurrency), or waits for one to
come free; sandboxes idle for a while are stopped, down to one per function.

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

Wire protocol (private socket pairs, ``multiprocessing.connection`` framing, tagged tuples, strictly
one request and its answer at a time):
- template to stack: ``("ready",)`` once its handler is imported; ``("forked", pid)`` for each
  socket the stack passed it (``multiprocessing.reduction.send_handle``), whose other end the new
  sandbox holds;
- sandbox to stack: ``("ready",)``; ``("aws", request)`` for each AWS call; ``("result",
  payload_json, is_error)`` at the end of an invocation;
- stack to sandbox: ``("invoke", event, context)``; ``("aws-answer", status, headers, body)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
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
from multiprocessing import reduction
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from labeler_tools.local import aws_channel
from labeler_tools.local.lambda_runtime import (
    DEFAULT_SANDBOXES_PER_FUNCTION,
    LambdaContext,
    error_payload,
    timed_out_payload,
)

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction

#: How long a template may take to import its handler (a cold start), or a new sandbox to say it is
#: ready, before the invocation fails.
START_TIMEOUT_S = 60.0
#: A sandbox idle this long is stopped (the pool keeps one per function warm).
DEFAULT_IDLE_S = 60.0


class SandboxCrashed(RuntimeError):
    """The sandbox process died (or never started) before answering."""


class SandboxTimedOut(RuntimeError):
    """The invocation ran past its function's timeout; its sandbox was killed."""


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Sandbox:
    """One sandbox process, forked from its function's template (``Template.fork``); ``answer_aws``
    answers its AWS calls."""

    module: str
    pid: int
    answer_aws: Callable[[aws_channel.Request], aws_channel.Answer]
    connection: Connection
    #: When its last invocation ended (``time.monotonic``).
    idle_since: float = field(default=0.0, init=False)
    #: Waits for the sandbox's next message (``Connection.poll`` builds a selector at every call).
    _readable: select.poll = field(default_factory=select.poll, init=False, repr=False)

    def __post_init__(self) -> None:
        self._readable.register(self.connection.fileno(), select.POLLIN)

    @property
    def alive(self) -> bool:
        return not self.connection.closed and _running(self.pid)

    def invoke(self, event: Any, context: LambdaContext) -> tuple[str, bool]:
        """Run one invocation to its end, answering the handler's AWS calls on this thread meanwhile:
        (payload JSON, is_error). Raises SandboxTimedOut past ``context``'s deadline (the sandbox is
        then stopped) and SandboxCrashed if the process died."""
        connection = self.connection
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
        """Kill it (its template reaps it)."""
        self.connection.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


@dataclass
class Template:
    """A function's template process: it imports the handler once (the init phase), then forks a
    sandbox whenever the stack asks for one. A fork starts warm in milliseconds, where a new process
    would spend a second or more of CPU importing and loading the model again, and it shares the
    template's memory (the model's weights, the imported modules) until it writes to it."""

    module: str
    attribute: str
    environment: Mapping[str, str]
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _connection: Connection | None = field(default=None, init=False, repr=False)
    _forking: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def start(self) -> Template:
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
        _await_ready(self._connection, f"sandbox template for {self.module}", self.stop)
        return self

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def fork(self, answer_aws: Callable[[aws_channel.Request], aws_channel.Answer]) -> Sandbox:
        """A new sandbox, warm; SandboxCrashed if this template is gone."""
        assert self._connection is not None and self._process is not None
        ours, theirs = socket.socketpair()
        try:
            with self._forking:
                reduction.send_handle(self._connection, theirs.fileno(), self._process.pid)
                _, pid = self._connection.recv()  # ("forked", pid)
        except (EOFError, OSError) as error:
            ours.close()
            raise SandboxCrashed(f"sandbox template for {self.module} is gone") from error
        finally:
            theirs.close()
        connection = Connection(ours.detach())
        _await_ready(connection, f"sandbox for {self.module}", lambda: os.kill(pid, signal.SIGKILL))
        return Sandbox(self.module, pid, answer_aws, connection)

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.kill()
            self._process.wait()


def _await_ready(connection: Connection, what: str, stop: Callable[[], None]) -> None:
    """Wait for a new process's ("ready",), as a cold start; SandboxCrashed if it does not come."""
    try:
        if not connection.poll(START_TIMEOUT_S):
            raise SandboxCrashed(f"{what} did not start within {START_TIMEOUT_S:.0f} s")
        connection.recv()  # ("ready",)
    except (EOFError, OSError, SandboxCrashed) as error:
        connection.close()
        with contextlib.suppress(ProcessLookupError):
            stop()
        if isinstance(error, SandboxCrashed):
            raise
        raise SandboxCrashed(f"{what} exited while starting") from error


@dataclass
class SandboxPool:
    """One function's sandboxes, each running one invocation at a time: ``acquire`` hands out an idle
    one (the most recently used, the warmest), starts one while fewer than ``limit`` run, or waits for
    one to be released."""

    limit: int
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
        with self._changed:
            while True:
                if self._stopped:
                    raise SandboxCrashed("the local stack is stopping")
                while self._idle:
                    sandbox = self._idle.pop()
                    if sandbox.alive:
                        return sandbox
                    self._members.remove(sandbox)  # died while idle (killed from outside)
                if len(self._members) + self._starting < self.limit:
                    self._starting += 1
                    break
                self._changed.wait()
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

    def shrink(self, idle_s: float) -> None:
        """Stop the sandboxes idle for more than ``idle_s``, keeping one running."""
        now = time.monotonic()
        with self._changed:
            removable = max(0, min(len(self._idle), len(self._members) - 1))
            stale = [sandbox for sandbox in self._idle[:removable] if now - sandbox.idle_since > idle_s]
            for sandbox in stale:  # the oldest first: _idle is in release order
                self._idle.remove(sandbox)
                self._members.remove(sandbox)
        for sandbox in stale:
            sandbox.stop()

    def pids(self) -> list[int]:
        with self._changed:
            return [sandbox.pid for sandbox in self._members]

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
    _templates: dict[str, Template] = field(default_factory=dict, init=False, repr=False)
    #: One per function: a template's cold start blocks that function's new sandboxes only.
    _template_locks: dict[str, threading.Lock] = field(init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def __post_init__(self) -> None:
        self._pools = {
            name: SandboxPool(self.limits.get(name, self.sandboxes_per_function)) for name in self.modules
        }
        self._template_locks = {name: threading.Lock() for name in self.modules}
        threading.Thread(target=self._shrink_idle_pools, name="sandbox-shrink", daemon=True).start()

    def pool(self, function_name: str) -> SandboxPool:
        pool = self._pools.get(function_name)
        if pool is None:
            raise LookupError(f"no handler registered for Lambda function {function_name!r}")
        return pool

    def _launch(self, function: LambdaFunction) -> Sandbox:
        """A new sandbox of the function, forked from its template."""
        try:
            return self._template(function, fresh=False).fork(self.answer_aws)
        except SandboxCrashed:  # the template died since: once more, from a new one
            return self._template(function, fresh=True).fork(self.answer_aws)

    def _template(self, function: LambdaFunction, fresh: bool) -> Template:
        """The function's template; a new one (a cold start) if it has none, it died, the function's
        handler or environment changed, or ``fresh``."""
        name = function.function_name
        wanted = Template(
            self.modules[name],
            str(function.handler).rsplit(".", 1)[-1],
            {**self.environment, **function.environment_vars},
        )
        with self._template_locks[name]:
            if self._stopping.is_set():  # no template outlives stop()
                raise SandboxCrashed("the local stack is stopping")
            template = self._templates.get(name)
            if (
                fresh
                or template is None
                or not template.alive
                or (template.attribute, template.environment) != (wanted.attribute, wanted.environment)
            ):
                if template is not None:
                    template.stop()
                template = self._templates[name] = wanted.start()
            return template

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
            context = LambdaContext.for_invocation(function)  # its deadline runs from here
            try:
                payload, is_error = sandbox.invoke(event, context)
            finally:
                pool.release(sandbox)
        except SandboxTimedOut:
            return json.dumps(timed_out_payload(context.timeout_s)), True, ""
        except SandboxCrashed as crash:  # it died, or could not start
            return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": str(crash)}), True, ""
        return payload, is_error, ""

    def _shrink_idle_pools(self) -> None:
        while not self._stopping.wait(max(0.1, self.idle_s / 4)):
            for pool in self._pools.values():
                pool.shrink(self.idle_s)

    def stop(self) -> None:
        self._stopping.set()
        for pool in self._pools.values():
            pool.stop()
        for name, lock in self._template_locks.items():
            with lock:
                template = self._templates.pop(name, None)
            if template is not None:
                template.stop()


class _Channel:
    """The connection this process's handler calls the stack over: the template's own until it
    forks, then each sandbox's."""

    connection: Connection | None = None


def _call_stack(request: aws_channel.Request) -> aws_channel.Answer:
    assert _Channel.connection is not None
    _Channel.connection.send(("aws", request))
    _, status, headers, body = _Channel.connection.recv()  # ("aws-answer", ...)
    return status, headers, body


def serve(module: str, attribute: str, fd: int) -> None:
    """The template process: import the handler, then fork a sandbox for each connection the stack
    sends, until it hangs up."""
    # Ctrl-C in a terminal reaches the whole process group: the stack drains its running executions
    # first, so its sandboxes keep answering until it hangs up (or kills them).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # each sandbox is reaped when it ends
    # One write per log line: the sandboxes share the stack's stdout, and a line split across two
    # writes could interleave with another process's.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    connection = Connection(fd)
    # Before the handler's import creates any client: its calls go to the stack over the channel.
    aws_channel.sign_headers_only()
    aws_channel.forward_requests(_call_stack)
    handler = getattr(importlib.import_module(module), attribute)
    gc.freeze()  # what the init phase made stays shared with the sandboxes: the collector never writes to it
    connection.send(("ready",))
    with contextlib.suppress(EOFError, OSError):  # the stack hung up
        while True:
            sandbox_fd = reduction.recv_handle(connection)
            pid = os.fork()
            if pid == 0:
                connection.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _run_invocations(Connection(sandbox_fd), handler)
                sys.stdout.flush()
                os._exit(0)
            os.close(sandbox_fd)
            connection.send(("forked", pid))


def _run_invocations(connection: Connection, handler: Callable[[Any, Any], Any]) -> None:
    """A sandbox: run invocations one at a time until the stack hangs up."""
    _Channel.connection = connection
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
