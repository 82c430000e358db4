"""boto3 calls answered by the local stack without HTTP: the botocore side (no moto import here).

Two botocore hooks, installed process-wide through ``botocore.handlers.BUILTIN_HANDLERS`` (as moto's
own ``mock_aws`` hook is), so that every client created afterwards uses them:

- ``sign_headers_only``: SigV4's headers without the signature. moto checks no signatures, and
  computing one costs CPU on every call. The Authorization header still names the access key and
  scope, from which moto takes the account and (S3) the region.
- ``forward_requests``: every request is handed, already serialised, to a function that returns
  moto's answer (the stack's process, or a sandbox's channel to it) instead of going out over
  HTTP. Clients must use AWS's own endpoints (no ``AWS_ENDPOINT_URL``), which is what moto routes on.

A sandbox process uses both (``labeler_tools.local.sandbox``): its handler's boto3 calls travel over the
socket pair it already shares with the stack, and the stack dispatches them to moto's backends
(``labeler_tools.local.hooks.core.answer_aws_request``). Over HTTP, each call cost the stack a TCP
connection (moto's werkzeug server closes every one), HTTP parsing and Flask's request handling
(the CPU per image before and after: ``make bench``, in the README).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import botocore.auth
import botocore.handlers
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

#: A serialised AWS request: method, URL, headers, body.
Request = tuple[str, str, list[tuple[str, str | bytes]], bytes]
#: moto's answer: status, headers, body.
Answer = tuple[int, dict[str, str], bytes]


class _SigV4HeadersOnly:
    """SigV4's request headers (date, token, S3's payload header, an Authorization header naming the
    access key and scope) without the signature: moto reads the account, the region and aws-chunked
    uploads from those headers and checks no signatures."""

    def add_auth(self: Any, request: Any) -> None:
        request.context["timestamp"] = datetime.now(UTC).strftime(botocore.auth.SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.scope(request)}, SignedHeaders=host, Signature=in-process"
        )


class _HeadersOnlySigV4(_SigV4HeadersOnly, botocore.auth.SigV4Auth):
    pass


class _HeadersOnlyS3SigV4(_SigV4HeadersOnly, botocore.auth.S3SigV4Auth):
    pass


botocore.auth.AUTH_TYPE_MAPS["labeler-headers-only-v4"] = _HeadersOnlySigV4
botocore.auth.AUTH_TYPE_MAPS["labeler-headers-only-s3v4"] = _HeadersOnlyS3SigV4


def _choose_headers_only_signer(
    signature_version: Any = None, signing_name: str = "", **_: Any
) -> str | None:
    """botocore ``choose-signer`` handler: plain SigV4 calls get the headers-only signer; anything
    else (presigned URLs, unsigned operations, other schemes) is left to botocore."""
    if signature_version not in ("v4", "s3v4"):
        return None
    return "labeler-headers-only-s3v4" if signing_name == "s3" else "labeler-headers-only-v4"


def sign_headers_only() -> None:
    """Make every client created from now on sign with SigV4's headers only (idempotent)."""
    if _choose_headers_only_signer not in {handler for _, handler, *_ in botocore.handlers.BUILTIN_HANDLERS}:
        # First, so that it answers before botocore's own choose-signer handlers do.
        botocore.handlers.BUILTIN_HANDLERS.insert(0, ("choose-signer", _choose_headers_only_signer))


class _Body(io.BytesIO):
    """An answer body as botocore reads a raw HTTP response (``read`` and ``stream``)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        while chunk := self.read(65536):
            yield chunk


def _serialise(request: AWSPreparedRequest) -> Request:
    body = request.body
    if body is not None and not isinstance(body, str | bytes | bytearray):
        body = body.read()  # a file-like upload body (S3's aws-chunked uploads)
    data = body.encode() if isinstance(body, str) else bytes(body or b"")
    return str(request.method), str(request.url), list(request.headers.items()), data


def answering_with(send: Callable[[Request], Answer]) -> Callable[..., AWSResponse]:
    """A botocore ``before-send`` handler that answers each request with ``send`` instead of HTTP."""

    def before_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        status, headers, body = send(_serialise(request))
        return AWSResponse(request.url, status, headers, _Body(body))  # type: ignore[arg-type]

    return before_send


def forward_requests(send: Callable[[Request], Answer]) -> None:
    """Answer every request of clients created from now on with ``send``.

    botocore calls every ``before-send`` handler, not only until one answers, so nothing else may
    answer too: moto's own hook would replay the request with its body already read (sandboxes
    never import moto)."""
    botocore.handlers.BUILTIN_HANDLERS.append(("before-send", answering_with(send)))
