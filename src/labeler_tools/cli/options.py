"""Options that several commands take, each declared once.

Every operator command has ``--json``, ``--wide`` and the five target options (``--stack``,
``--profile``, ``--region``, ``--endpoint-url``, ``--data-dir``): they are the fields of
:class:`Common`, and :func:`with_common` adds them to a command's own options (after them; the target
options under their own heading in ``--help``) and hands the command their values as one ``common``.
So the options stay after the command, as in ``labeler list --stack NAME`` (a callback of the app
would want them before it). The other shared options are aliases: ``options.Since``, ...
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from labeler_tools.deployment import DEFAULT_DATA_DIR

if TYPE_CHECKING:
    from labeler_tools.ops.target import Target

R = TypeVar("R")
_TARGET = "Target (default: the running local stack)"


@dataclass(frozen=True)
class Common:
    """The options of every operator command: how to print, and where to work."""

    json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")] = False
    wide: Annotated[
        bool,
        typer.Option(
            "--wide", help="Show every column, nothing shortened (rows may be wider than the terminal)."
        ),
    ] = False
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            metavar="NAME",
            envvar="LABELER_STACK",
            help="Work on this CloudFormation stack on AWS; every resource is read from its outputs.",
            rich_help_panel=_TARGET,
        ),
    ] = None
    profile: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="AWS profile for --stack (default: AWS_PROFILE).", rich_help_panel=_TARGET
        ),
    ] = None
    region: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="AWS region for --stack (default: AWS_REGION).", rich_help_panel=_TARGET
        ),
    ] = None
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url",
            metavar="URL",
            help="AWS endpoint of a local stack whose discovery file is elsewhere or missing.",
            rich_help_panel=_TARGET,
        ),
    ] = None
    data_dir: Annotated[
        Path,
        typer.Option(
            metavar="DIR",
            help="Data dir of `labeler local`: its local.json says where it runs.",
            rich_help_panel=_TARGET,
        ),
    ] = DEFAULT_DATA_DIR

    def target(self) -> Target:
        """The target the options name; a command asks once it has checked its other input (a
        TargetError is a one-line error, exit status 1). boto3 is loaded here, not for ``--help``."""
        from labeler_tools.ops.target import resolve_target

        return resolve_target(
            stack=self.stack,
            profile=self.profile,
            region=self.region,
            endpoint_url=self.endpoint_url,
            data_dir=self.data_dir,
        )


def _parameters(function: Callable[..., Any], without: str = "") -> list[inspect.Parameter]:
    """``function``'s parameters (a class: its constructor's) as typer reads them, their annotations
    evaluated (modules here postpone them)."""
    hints = typing.get_type_hints(function, include_extras=True)
    kept = [p for p in inspect.signature(function).parameters.values() if p.name != without]
    return [parameter.replace(annotation=hints[parameter.name]) for parameter in kept]


_COMMON = [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY) for parameter in _parameters(Common)]


def with_common(command: Callable[..., R]) -> Callable[..., R]:
    """``command`` takes ``common: Common`` (first, as a ``typer.Context`` would be) besides its own
    options; its command line gets the options of :class:`Common` instead, after its own."""
    parameters = [*_parameters(command, without="common"), *_COMMON]

    @functools.wraps(command)
    def run(**options: Any) -> R:
        common = Common(**{field.name: options.pop(field.name) for field in fields(Common)})
        return command(**options, common=common)

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    return run


def _when(text: str) -> datetime:
    from labeler_tools.ops.when import parse_when

    try:
        return parse_when(text)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error


Owner = Annotated[
    str | None, typer.Option(metavar="OWNER", help="Only this owner's images (uploads/OWNER/...).")
]
Since = Annotated[
    datetime | None,
    typer.Option(
        parser=_when, metavar="WHEN", help="From this time: 30m, 2h, 1d, 1w ago, or ISO-8601 (UTC)."
    ),
]
Until = Annotated[
    datetime | None,
    typer.Option(parser=_when, metavar="WHEN", help="Up to this time (same forms as --since)."),
]
Limit = Annotated[int, typer.Option(min=1, help="At most this many, newest first.")]
Timeout = Annotated[float, typer.Option(min=1, help="With --wait: give up after this many seconds.")]
