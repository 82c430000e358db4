"""Every table and panel of the CLI: one line per row at 80 and 120 columns, nothing wider than the
terminal; ``--wide`` shows every column whole. The data has long keys, long file names and long
reasons, as a browser guest's uploads and the pipeline's errors do."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.console import Console, RenderableType

from labeler_tools.cli import core, render
from labeler_tools.ops.delete import summarize as summarize_deletions
from labeler_tools.ops.replay import summarize as summarize_replay
from tests.unit import cli_samples as samples

WIDTHS = [80, 120]
Shown = Callable[[RenderableType], list[str]]


def text(renderable: RenderableType, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


@pytest.fixture
def wide_text(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Shown:
    """What ``--wide`` prints in a terminal of 80 columns."""
    monkeypatch.setattr(core, "console", Console(width=80, color_system=None))

    def shown(renderable: RenderableType) -> list[str]:
        core.show(renderable, wide=True)
        return capsys.readouterr().out.splitlines()

    return shown


#: Each output, and how many lines it has when every row is one line (titles, headers and rules too).
OUTPUTS: dict[str, tuple[Callable[[bool], RenderableType], int]] = {
    "list": (lambda wide: render.records(samples.records(), wide=wide), 2 + 4),
    "status": (lambda wide: render.record(samples.record(), samples.CONSOLE_URL, wide=wide), 10),
    "status of a LABELED image": (
        lambda wide: render.record(samples.records()[1], None, wide=wide),
        7 + 2 + 5,
    ),
    "executions list": (lambda wide: render.executions(samples.executions(), wide=wide), 2 + 3),
    # 11 fields (12 with the ARN), then 4 states and the 6 tries of Label
    "executions show": (lambda wide: render.execution(samples.execution_detail(), wide=wide), 11 + 2 + 10),
    "upload": (lambda wide: render.uploads(samples.uploads(), waited=False, wide=wide), 2 + 5),
    "upload --wait": (lambda wide: render.uploads(samples.uploads(), waited=True, wide=wide), 2 + 5),
    "replay --dry-run": (
        lambda wide: render.replay_items(samples.replay_items(waited=False), title="Replay plan", wide=wide),
        3 + 3,
    ),
    "replay --wait": (
        lambda wide: render.replay_items(samples.replay_items(waited=True), title="Replay", wide=wide),
        3 + 3,
    ),
    "replay summary": (
        lambda _: render.replay_summary(summarize_replay(samples.replay_items(waited=True), waited=True)),
        3 + 7,
    ),
    "labels": (lambda _: render.label_counts(samples.label_counts()), 2 + 3),
    "labels --limit": (lambda _: render.label_counts(samples.label_counts()[:2], more=1), 2 + 2 + 1),
    "list --label": (lambda wide: render.labeled_images(samples.labeled_images(), wide=wide), 2 + 2),
    "list --label --owner": (
        lambda wide: render.labeled_images(samples.labeled_images(), wide=wide, owners=False),
        2 + 2,
    ),
    # and one line for the error under the table
    "delete --wait": (
        lambda wide: render.deletions(
            samples.deletions(), summarize_deletions(samples.deletions(), waited=True), wide=wide
        ),
        3 + 3 + 1,
    ),
}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", OUTPUTS)
def test_every_row_is_one_line_no_wider_than_the_terminal(name: str, width: int) -> None:
    build, lines = OUTPUTS[name]

    shown = text(build(False), width)

    assert len(shown) == lines, "\n".join(shown)
    assert max(len(line) for line in shown) <= width, "\n".join(shown)


@pytest.mark.parametrize("name", OUTPUTS)
def test_wide_shows_every_row_on_one_line_with_nothing_shortened(name: str, wide_text: Shown) -> None:
    build, lines = OUTPUTS[name]

    shown = wide_text(build(True))

    assert len(shown) == lines + (name == "executions show"), "\n".join(shown)  # and the ARN
    assert not any("…" in line for line in shown), "\n".join(shown)


def test_at_80_columns_long_cells_end_in_an_ellipsis_and_wide_has_them_whole(
    wide_text: Shown,
) -> None:
    narrow = "\n".join(text(render.records(samples.records()), 80))
    wide = "\n".join(wide_text(render.records(samples.records(), wide=True)))

    assert samples.LONG_KEY not in narrow and samples.LONG_KEY[:12] in narrow and "…" in narrow
    for whole in (samples.LONG_KEY, samples.LONG_NAME, samples.LONG_REASON, samples.EXECUTION_NAME):
        assert whole in wide
    assert "2026-11-26 19:00:05" in wide and "11-26 19:00" in narrow  # the year and seconds: --wide


def test_at_120_columns_a_key_is_whole_when_the_reason_can_give_way() -> None:
    found = [
        samples.record(image_name=samples.KEY),
        samples.record(image_name=samples.KEY, original_name=None),
    ]

    shown = "\n".join(text(render.records(found), 120))

    assert samples.KEY in shown and "TOO_SMALL: The image" in shown


def test_the_file_name_shows_where_a_person_recognises_an_image() -> None:
    outputs = [
        render.records(samples.records()),
        render.record(samples.record(), None),
        render.uploads(samples.uploads(), waited=True),
        render.replay_items(samples.replay_items(waited=False), title="Replay"),
        render.deletions(samples.deletions(), summarize_deletions(samples.deletions(), waited=False)),
        render.labeled_images(samples.labeled_images()),
    ]
    for output in outputs:
        assert samples.LONG_NAME[:10] in "\n".join(text(output, 80))


def test_links_are_not_cut_short_but_left_to_wide(wide_text: Shown) -> None:
    narrow = "\n".join(text(render.record(samples.record(), samples.CONSOLE_URL), 80))
    wide = "\n".join(wide_text(render.record(samples.record(), samples.CONSOLE_URL, wide=True)))

    assert "--wide shows it" in narrow and "https://" not in narrow
    assert samples.EXECUTION_NAME in narrow and samples.ARN not in narrow
    assert samples.CONSOLE_URL in wide and samples.ARN in wide


def test_a_narrow_terminal_still_gets_one_line_per_row() -> None:
    shown = text(render.records(samples.records()), 60)

    assert len(shown) == 2 + 4 and max(len(line) for line in shown) <= 60


def test_an_unreadable_record_is_listed_and_shown_with_what_is_wrong() -> None:
    listed = text(render.records([samples.unreadable()], wide=True), 200)
    shown = "\n".join(text(render.record(samples.unreadable(), None), 80))

    assert "QUARANTINED" in listed[2] and "unreadable: " in listed[2]
    assert "This record is unreadable by this CLI" in shown
    assert "scan_verdict" in shown and "suspicious" in shown  # every attribute, as stored


def test_a_file_column_without_any_file_name_is_left_out() -> None:
    items = [item.model_copy(update={"original_name": None}) for item in samples.replay_items(waited=False)]

    header = text(render.replay_items(items, title="Replay"), 80)[1]

    assert header.startswith("Key") and "File" not in header
