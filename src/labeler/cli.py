"""``labeler``: the operator's command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from labeler.models import ImageStatus, ResultRecord

app = typer.Typer(
    name="labeler",
    help="Image Labeler: label photos with a serverless pipeline, on AWS or on this machine.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.callback()
def main() -> None:
    """Image Labeler: label photos with a serverless pipeline, on AWS or on this machine."""


_STATUS_COLOURS = {ImageStatus.LABELED: "green", ImageStatus.REJECTED: "yellow", ImageStatus.FAILED: "red"}


def _render(record: ResultRecord) -> None:
    colour = _STATUS_COLOURS[record.status]
    console.print(f"[bold]{record.image_name}[/]  [{colour}]{record.status.value}[/]")
    if record.status is ImageStatus.LABELED:
        table = Table("Label", "Confidence", "Parents")
        for label in record.labels:
            table.add_row(label.name, f"{label.confidence:.1f}%", ", ".join(label.parents))
        console.print(table)
        console.print(
            f"{record.format} {record.width}x{record.height}, model {record.label_model_version} "
            f"({record.label_backend}), {record.timings.end_to_end_ms:.0f} ms end to end"
        )
    else:
        console.print(f"{record.error_code}: {record.reason}")


@app.command()
def demo(
    image: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Image to label (default: a generated sample photo)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored record as JSON.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show the handlers' logs and metrics.")
    ] = False,
) -> None:
    """Run the whole pipeline once on this machine and print the stored record.

    Starts moto as the local AWS, provisions the stack from the same blueprint the CDK app uses,
    uploads one image, executes the real state machine with the real handlers, and prints the
    DynamoDB record. Labels come from moto's Rekognition stand-in until the offline model lands.
    """
    import os

    from labeler.aws.results import ResultsRepository
    from labeler.local import runner
    from labeler.local.provision import StackNames, provision
    from labeler.local.server import LocalAws
    from labeler.samples import photo_like

    names = StackNames()
    os.environ["LABELER_RESULTS_TABLE"] = names.results_table
    if not verbose:  # before the handlers import Powertools
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    body = image.read_bytes() if image else photo_like(800, 600)
    key = f"uploads/demo/{image.name if image else 'sample photo.jpg'}"
    with LocalAws(names.handler_modules()) as aws, console.status("running the pipeline…"):
        session = aws.session()
        stack = provision(session, names)
        event = runner.upload(session.client("s3"), stack.upload_bucket, key, body)
        sfn = session.client("stepfunctions")
        execution_arn = runner.start_execution(sfn, stack.state_machine_arn, event)
        execution = runner.wait_for_execution(sfn, execution_arn)
        record = ResultsRepository(session.client("dynamodb"), stack.results_table).get("demo", key)
    if record is None:
        console.print(f"[red]no record stored; execution {execution['status']}: {execution.get('error')}[/]")
        raise typer.Exit(1)
    if as_json:
        json.dump(record.model_dump(mode="json"), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _render(record)
    raise typer.Exit(0 if record.status is ImageStatus.LABELED else 2)


if __name__ == "__main__":
    app()
