"""moto's core (``moto.core``, ``moto.backends``): calls answered in process, per-request setup cached.

``route_in_process_calls``: the AWS calls this process makes itself (the ASL interpreter's Lambda/SNS
calls, the web page's reads, the handlers when they run in process) go straight to moto's backends
through moto's own botocore hook, the one ``mock_aws`` uses, instead of a loopback HTTP round trip
each, signed with SigV4's headers only (``labeler_tools.local.aws_channel``). The sandboxes' calls
arrive over their channels and ``answer_aws_request`` sends them down the same path. The HTTP server
keeps serving every other client (browser, CLI, aws-cli, tests in other processes) from the same
backends.

Speed (``install``; measured in ``make bench``): moto's server lists its own package folder on every
request while holding a global lock (``backends.list_of_moto_modules``: cached); request dispatch
lists a response class's methods with ``inspect`` on every request (``method_names_from_class``:
cached per class); and routing a call in process rebuilds a backend's URL table on every request (for
S3, by reloading ``moto.s3.urls`` twice; ``BaseBackend.urls``: cached per backend class, since the
environment it reads is fixed for the life of the process).
"""

from __future__ import annotations

import functools
from typing import Any

from botocore.awsrequest import AWSPreparedRequest
from botocore.compat import HTTPHeaders
from moto import backends as moto_backends
from moto.core import responses as moto_responses
from moto.core.base_backend import BaseBackend
from moto.core.models import botocore_stubber

from labeler_tools.local import aws_channel

_ORIGINAL_BACKEND_URLS: property = BaseBackend.urls  # type: ignore[assignment]
_URLS_BY_BACKEND_CLASS: dict[type, Any] = {}


def _backend_urls(self: BaseBackend) -> Any:
    urls = _URLS_BY_BACKEND_CLASS.get(type(self))
    if urls is None:
        urls = _URLS_BY_BACKEND_CLASS[type(self)] = _ORIGINAL_BACKEND_URLS.fget(self)  # type: ignore[misc]
    return urls


def install() -> None:
    """Cache moto's per-request setup (see the module docstring)."""
    BaseBackend.urls = property(_backend_urls)  # type: ignore[assignment,method-assign]
    original_modules = moto_backends.list_of_moto_modules
    moto_backends.list_of_moto_modules = functools.cache(lambda: tuple(original_modules()))
    moto_responses.method_names_from_class = functools.cache(moto_responses.method_names_from_class)  # type: ignore[attr-defined]


def route_in_process_calls() -> None:
    """Dispatch this process's boto3 calls to AWS endpoints in process (see the module docstring).

    Clients must use AWS's own endpoints (no ``AWS_ENDPOINT_URL``); a call for anything moto does not
    implement is answered 404 in process, never sent to AWS.
    """
    botocore_stubber.enabled = True
    aws_channel.sign_headers_only()


def answer_aws_request(request: aws_channel.Request) -> aws_channel.Answer:
    """moto's answer to a request a sandbox forwarded (``aws_channel.forward_requests``), as moto's
    in-process hook answers this process's own calls; 404 for anything moto does not serve."""
    method, url, headers, body = request
    prepared = AWSPreparedRequest(method, url, HTTPHeaders(), body, stream_output=False)
    for name, value in headers:
        prepared.headers[name] = value.decode() if isinstance(value, bytes) else value
    answer = botocore_stubber.process_request(prepared)
    if answer is None:
        return 404, {}, f"nothing local answers {method} {url}".encode()
    status, answer_headers, answer_body = answer
    return status, dict(answer_headers), answer_body.encode() if isinstance(answer_body, str) else answer_body
