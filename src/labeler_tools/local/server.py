"""moto in server mode on loopback, with our hooks (``labeler_tools.local.hooks``): it executes our ASL
and runs our handlers, in sandbox processes (``labeler local``) or in this process (the tests)."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import urllib.request
from dataclasses import dataclass, field
from types import TracebackType

import boto3
from moto.awslambda.models import lambda_backends
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer

from labeler.aws import clients
from labeler.blueprint import REPO_ROOT
from labeler_tools.local import hooks
from labeler_tools.local.hooks.core import answer_aws_request, route_in_process_calls
from labeler_tools.local.in_process_lambdas import InProcessLambdas
from labeler_tools.local.lambda_runtime import DEFAULT_SANDBOXES_PER_FUNCTION
from labeler_tools.local.runner import next_sequencer
from labeler_tools.local.sandbox import SandboxedLambdas

REGION = "us-east-1"
#: moto accepts any credentials; these make sure nothing ever signs with a real account's keys.
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalAws:
    """A running moto server plus the process environment that points boto3 (and moto's ASL) at it."""

    handler_modules: dict[str, str]
    host: str = "127.0.0.1"
    port: int = 0
    retry_wait_factor: float = 1.0
    #: Handlers in sandbox processes, as on Lambda (``labeler local``), or in this process, where
    #: tests can reach into them.
    sandboxes: bool = False
    #: Each function's sandbox limit (``sandboxes`` only): the local analogue of reserved concurrency;
    #: ``sandbox_limits`` overrides it for some functions.
    sandboxes_per_function: int = DEFAULT_SANDBOXES_PER_FUNCTION
    sandbox_limits: dict[str, int] = field(default_factory=dict)
    _lambdas: SandboxedLambdas | None = field(default=None, repr=False)
    _server: ThreadedMotoServer | None = field(default=None, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalAws:
        self.port = self.port or free_port(self.host)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        os.environ.update(
            {
                **_FAKE_CREDENTIALS,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                # moto's ASL interpreter would call Lambda/SNS/DynamoDB at localhost:$MOTO_PORT
                # if in-process routing were off.
                "MOTO_PORT": str(self.port),
            }
        )
        # In this process, AWS calls are routed to moto's backends directly (hooks.core); the
        # endpoint URL is for other processes (see the discovery file).
        os.environ.pop("AWS_ENDPOINT_URL", None)
        route_in_process_calls()
        clients.reset()
        # moto's backends live in the process, not in the server: a server started after another one
        # in the same process (a second test session, as mutmut runs them) starts empty.
        self._post("/moto-api/reset", {})
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        # The handlers live in functions/<name>/handler.py at the repository root, outside the package.
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        runtime: SandboxedLambdas | InProcessLambdas
        if self.sandboxes:
            runtime = self._lambdas = SandboxedLambdas(
                self.handler_modules,
                self._sandbox_environment(),
                answer_aws_request,
                sandboxes_per_function=self.sandboxes_per_function,
                limits=self.sandbox_limits,
            )
        else:
            runtime = InProcessLambdas(self.handler_modules)
        hooks.install(runtime, next_sequencer, self.retry_wait_factor)
        return self

    def _sandbox_environment(self) -> dict[str, str]:
        """This process's environment (fake credentials, region) as a sandbox's base. No endpoint:
        a sandbox's boto3 calls go to AWS's own endpoints, which its channel to this process serves."""
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("MOTO_") and key != "AWS_ENDPOINT_URL"
        }
        python_path = [str(REPO_ROOT), *filter(None, [environment.get("PYTHONPATH")])]
        return {**environment, "PYTHONPATH": os.pathsep.join(python_path)}

    def warm_up(self) -> None:
        """Start a sandbox per function now (in parallel), so no upload waits for a cold start."""
        if self._lambdas is None:
            return
        self._lambdas.warm_up(
            [
                function
                for function in lambda_backends[DEFAULT_ACCOUNT_ID][REGION].list_functions()
                if function.function_name in self.handler_modules
            ]
        )

    def stop(self) -> None:
        if self._lambdas is not None:
            self._lambdas.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def session(self) -> boto3.Session:
        return boto3.Session(region_name=REGION)

    def _post(self, path: str, body: dict[str, object]) -> None:
        request = urllib.request.Request(  # noqa: S310 - loopback URL we built
            self.endpoint_url + path, data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
