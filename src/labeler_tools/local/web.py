"""The local web server: the built page from ``frontend/dist`` when there is one, ``/config.json`` for it,
a small server-rendered status page of the latest records (at ``/`` until the page is built, and always at
``/status``), and, for the page's executions view, the local stack's Step Functions executions as JSON
(the local stand-in for the Step Functions console).
"""

from __future__ import annotations

import contextlib
import html
import json
import mimetypes
import re
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labeler.blueprint import REPO_ROOT
from labeler.events import execution_arn
from labeler.models import ResultRecord
from labeler_tools.ops.executions import ExecutionNotFound, explain, list_executions

if TYPE_CHECKING:
    from labeler_tools.ops.target import Target

FRONTEND_DIST = REPO_ROOT / "frontend" / "dist"
#: What Step Functions allows in an execution name (no ':' or '/': the name is appended to an ARN).
_EXECUTION_NAME = re.compile(r"[\w-]{1,80}")
SECURITY_HEADERS = {
    "Content-Security-Policy": "; ".join(
        [
            "default-src 'self'",
            "connect-src 'self' http://127.0.0.1:* http://localhost:*",
            "img-src 'self' blob: data:",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

_STATUS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Image Labeler (local)</title>
<meta http-equiv="refresh" content="3"><link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>Image Labeler, running locally</h1>
<p>Upload with any S3 client, for example
<code>aws s3 cp photo.jpg s3://{bucket}/uploads/me/photo.jpg --endpoint-url {endpoint}</code>.
This page refreshes every 3 seconds.</p>
<table><thead><tr><th>Time</th><th>Key</th><th>Status</th><th>Labels / reason</th></tr></thead>
<tbody>{rows}</tbody></table></body></html>
"""


def render_status_page(records: list[ResultRecord], bucket: str, endpoint: str) -> str:
    rows = []
    for record in records:
        detail = (
            ", ".join(f"{label.name} {label.confidence:.0f}%" for label in record.labels)
            if record.labels
            else f"{record.error_code or ''} {record.reason or ''}".strip()
        )
        rows.append(
            f"<tr><td>{html.escape(record.timestamp)}</td><td>{html.escape(record.image_name)}</td>"
            f"<td>{record.status.value}</td><td>{html.escape(detail)}</td></tr>"
        )
    empty = '<tr><td colspan="4">No images yet.</td></tr>'
    return _STATUS_PAGE.format(
        bucket=html.escape(bucket), endpoint=html.escape(endpoint), rows="".join(rows) or empty
    )


class WebServer:
    """Serves the page on its own thread; ``recent_records`` and ``config`` are read per request.

    With ``executions`` (the local stack as ``labeler executions`` sees it), ``/api/executions`` lists
    the recent executions and ``/api/executions/<name>`` explains one (``labeler_tools.ops.executions``:
    its states, attempts and errors), as JSON; without it, both answer 404 and the page says the view
    is unavailable.
    """

    #: Executions listed by ``/api/executions``, newest first.
    EXECUTIONS_LIMIT = 50

    def __init__(
        self,
        host: str,
        port: int,
        config: dict[str, Any],
        recent_records: Callable[[], list[ResultRecord]],
        static_dir: Path = FRONTEND_DIST,
        executions: Target | None = None,
    ) -> None:
        self.config, self.recent_records, self.static_dir = config, recent_records, static_dir
        self.executions = executions
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the console is for pipeline events."""

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="labeler-web", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> WebServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.partition("?")[0]
        if path == "/config.json":
            self._send_json(request, HTTPStatus.OK, self.config)
            return
        if path == "/api/executions" or path.startswith("/api/executions/"):
            self._executions(request, path.removeprefix("/api/executions").strip("/"))
            return
        static = self._static_file(path) if path != "/status" else None
        if static is not None:
            content_type = mimetypes.guess_type(static.name)[0] or "application/octet-stream"
            self._send(request, HTTPStatus.OK, content_type, static.read_bytes())
            return
        if path in ("/", "/index.html", "/status"):
            page = render_status_page(
                self.recent_records(), self.config["uploadBucket"], self.config["endpoint"]
            )
            self._send(request, HTTPStatus.OK, "text/html; charset=utf-8", page.encode())
            return
        self._send(request, HTTPStatus.NOT_FOUND, "text/plain", b"not found")

    def _executions(self, request: BaseHTTPRequestHandler, name: str) -> None:
        target = self.executions
        if target is None:
            self._send_json(request, HTTPStatus.NOT_FOUND, {"message": "no executions on this server"})
            return
        if not name:
            listed = list_executions(target, limit=self.EXECUTIONS_LIMIT)
            self._send_json(
                request, HTTPStatus.OK, {"executions": [e.model_dump(mode="json") for e in listed]}
            )
            return
        detail = None
        if _EXECUTION_NAME.fullmatch(name):
            with contextlib.suppress(ExecutionNotFound):
                detail = explain(target, execution_arn(target.state_machine_arn, name))
        if detail is None:
            self._send_json(request, HTTPStatus.NOT_FOUND, {"message": f"no execution named {name!r}"})
            return
        self._send_json(request, HTTPStatus.OK, detail.model_dump(mode="json"))

    def _static_file(self, path: str) -> Path | None:
        if not self.static_dir.is_dir():
            return None
        candidate = (self.static_dir / (path.lstrip("/") or "index.html")).resolve()
        if not candidate.is_relative_to(self.static_dir.resolve()) or not candidate.is_file():
            return None
        return candidate

    @classmethod
    def _send_json(cls, request: BaseHTTPRequestHandler, status: HTTPStatus, body: Any) -> None:
        cls._send(request, status, "application/json", json.dumps(body).encode())

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: HTTPStatus, content_type: str, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.send_header("Cache-Control", "no-store")
        for name, value in SECURITY_HEADERS.items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(body)
