"""The ``labeler`` app and what its commands share: exit statuses, errors, output, progress."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.text import Text
from typer import _click
from typer.core import TyperGroup

from labeler.aws.codes import error_summary

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pydantic import BaseModel
    from rich.progress import Progress

    from labeler_tools.ops.target import Target

#: Exit statuses of the operator commands besides 0.
EXIT_USAGE, EXIT_NOT_LABELED, EXIT_INTERRUPTED = 1, 2, 130
#: Wider than any table: what ``--wide`` measures a renderable's natural width with.
_UNLIMITED = 100_000


class LabelerCommands(TyperGroup):
    """Exit statuses: 0 ok, 1 usage or target error, 2 some items not labeled, 130 interrupted.

    click exits 2 on usage errors; here 2 means "some items are not labeled", so usage errors exit 1.
    Operator errors (no local stack, unknown stack, nothing answering, AWS refusing a call) are one
    line on stderr, not a traceback. (typer vendors click as ``typer._click``: its exceptions are the
    ones raised; typer is pinned and a test checks the usage exit status.)
    """

    def make_context(
        self, info_name: str | None, args: list[str], parent: _click.Context | None = None, **extra: Any
    ) -> _click.Context:
        with _usage_exit_status():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: _click.Context) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        from labeler_tools.ops.errors import OperatorError

        try:
            with _usage_exit_status():
                return super().invoke(ctx)
        except OperatorError as error:
            fail(str(error))
        except ClientError as error:
            fail(f"AWS refused {error.operation_name}: {error_summary(error)}")
        except BotoCoreError as error:  # nothing answering, no credentials, ...
            fail(str(error))


@contextmanager
def _usage_exit_status() -> Iterator[None]:
    try:
        yield
    except _click.exceptions.UsageError as error:
        error.exit_code = EXIT_USAGE  # a class attribute in click; set on this error only
        raise


app = typer.Typer(
    name="labeler",
    help="Image Labeler: label photos with a serverless pipeline, on AWS or on this machine.",
    no_args_is_help=True,
    add_completion=False,
    cls=LabelerCommands,
    rich_markup_mode="markdown",
)
#: Tables and --json: stdout.
console = Console()
#: Progress, warnings and errors: stdout stays clean for tables and --json.
errors = Console(stderr=True)


@app.callback()
def main() -> None:
    """Image Labeler: label photos with a serverless pipeline, on AWS or on this machine."""


def fail(message: str) -> NoReturn:
    errors.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    raise typer.Exit(EXIT_USAGE)


def warn(message: str) -> None:
    errors.print(Text.assemble(("warning:", "yellow"), " ", message), soft_wrap=True)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def print_outcome_json(summary: BaseModel, items: Sequence[BaseModel]) -> None:
    """What a command did, for scripts: ``{"summary": ..., "items": [...]}``."""
    print_json(
        {
            "summary": summary.model_dump(mode="json"),
            "items": [item.model_dump(mode="json") for item in items],
        }
    )


def show(renderable: RenderableType, wide: bool = False) -> None:
    """A table on stdout: one line per row, fitted to the terminal (80 columns when piped) by
    shortening cells with an ellipsis; ``wide``: as wide as it needs, nothing shortened (a terminal
    wraps the longer lines, a pipe gets them whole)."""
    if not wide:
        console.print(renderable)
        return
    natural = Measurement.get(console, console.options.update_width(_UNLIMITED), renderable).maximum
    Console(width=max(natural, console.width)).print(renderable)


def progress() -> Progress:
    """Progress bars on stderr while a terminal watches, gone when done."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=errors, transient=True, disable=not errors.is_terminal)


def poll_interval(target: Target) -> float:
    """How often waiting commands look: the local stack is next door, AWS calls are rate-limited."""
    return 0.2 if target.local else 2.0
