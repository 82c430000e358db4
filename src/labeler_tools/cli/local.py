"""``labeler local``: the whole system on this machine, until Ctrl-C."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from labeler.blueprint import DEFAULT_QUOTA, QuotaSpec
from labeler_tools.cli.core import console
from labeler_tools.deployment import DEFAULT_DATA_DIR, Discovery, discovery_path
from labeler_tools.local.lambda_runtime import DEFAULT_SANDBOXES_PER_FUNCTION


def local(
    host: Annotated[str, typer.Option(help="Interface to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the local AWS endpoint (moto).")] = 4566,
    web_port: Annotated[int, typer.Option(help="Port of the web page.")] = 8080,
    data_dir: Annotated[
        Path, typer.Option(help="Where uploads, results and the discovery file (local.json) are kept.")
    ] = DEFAULT_DATA_DIR,
    backend: Annotated[
        str, typer.Option(help="Label backend: 'onnx' (offline model) or 'rekognition' (moto's stand-in).")
    ] = "onnx",
    min_confidence: Annotated[
        float | None,
        typer.Option(min=0, max=100, help="Lowest label confidence kept, percent [default: 10 for onnx]."),
    ] = None,
    max_labels: Annotated[int, typer.Option(min=1, max=100, help="Most labels kept per image.")] = 10,
    ephemeral: Annotated[bool, typer.Option(help="Start empty and keep nothing when stopped.")] = False,
    fail_first_label_calls: Annotated[
        int,
        typer.Option(
            min=0,
            help="Rehearse an outage: the first N label calls fail (retried, then FAILED), then it heals.",
        ),
    ] = 0,
    max_sandboxes: Annotated[
        int,
        typer.Option(
            min=1,
            help="Sandbox processes each Lambda function may run at once (its reserved concurrency).",
        ),
    ] = DEFAULT_SANDBOXES_PER_FUNCTION,
    quota_per_owner: Annotated[
        int, typer.Option(min=0, help="Images one owner may have labeled per UTC day (0: no limit).")
    ] = DEFAULT_QUOTA.per_owner_per_day,
    quota_global: Annotated[
        int, typer.Option(min=0, help="Images everyone may have labeled per UTC day (0: no limit).")
    ] = DEFAULT_QUOTA.global_per_day,
    quota_exempt: Annotated[
        list[str] | None,
        typer.Option(metavar="OWNER", help="An owner no quota applies to (repeatable) [default: cli]."),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the web page in a browser.")
    ] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the handlers' JSON logs.")] = False,
) -> None:
    """Run the whole system on this machine until Ctrl-C.

    Upload to the printed S3 endpoint (any S3 client) or through the web page; every upload runs
    through EventBridge, Step Functions and the three Lambda handlers, labeled by an offline model.
    """
    import logging
    import os
    import webbrowser

    if backend not in ("onnx", "rekognition"):
        raise typer.BadParameter("choose 'onnx' or 'rekognition'", param_hint="--backend")
    if not verbose:  # before the handlers import Powertools
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("labeler_tools").setLevel(logging.INFO)
    from labeler_tools.local.stack import LocalOptions, LocalStack

    options = LocalOptions(
        host=host,
        port=port,
        web_port=web_port,
        data_dir=data_dir,
        label_backend=backend,  # type: ignore[arg-type]
        min_confidence=min_confidence,
        max_labels=max_labels,
        persist=not ephemeral,
        fail_first_label_calls=fail_first_label_calls,
        sandboxes_per_function=max_sandboxes,
        quota=QuotaSpec(
            per_owner_per_day=quota_per_owner,
            global_per_day=quota_global,
            exempt_owners=tuple(quota_exempt) if quota_exempt else DEFAULT_QUOTA.exempt_owners,
        ),
    )
    stack = LocalStack(options, on_notification=_print_notification)
    with console.status("starting the local stack…"):
        try:
            discovery = stack.start()
        except OSError as error:
            stack.stop()
            console.print(
                f"[red]could not start: {error}[/] "
                "(is another `labeler local` running? try --port / --web-port)"
            )
            raise typer.Exit(1) from error
    _print_banner(discovery, options.data_dir)
    if open_browser:
        webbrowser.open(discovery.web_url)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    stopping.wait()
    with console.status("stopping: finishing running executions, saving state…"):
        stack.stop()
    console.print("stopped.")


def _print_banner(discovery: Discovery, data_dir: Path) -> None:
    endpoint, bucket = discovery.endpoint_url, discovery.upload_bucket
    lines = [
        f"[bold green]Image Labeler is running locally[/] ({discovery.label_backend} labels)",
        f"  web page      {discovery.web_url}",
        f"  AWS endpoint  {endpoint}  (region {discovery.region}, any credentials)",
        f"  upload        aws s3 cp photo.jpg s3://{bucket}/uploads/me/photo.jpg --endpoint-url {endpoint}",
        f"  discovery     {discovery_path(data_dir)}",
        "Press Ctrl-C to stop.",
    ]
    for line in lines:
        console.print(line, soft_wrap=True)


def _print_notification(body: dict[str, Any]) -> None:
    console.print(f"[yellow]{body['status']}[/] {body['key']}: {body['code']} {body['reason']}")
