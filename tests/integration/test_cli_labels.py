"""``labeler labels`` and ``labeler list --label`` against the session's local stack.

The label index is seeded the way the store step keeps it: LABELED records written through a
``ResultsRepository`` with the index. Other tests share the stack, so each test has owners of its own,
and labels of its own (a suffix) wherever it reads across owners.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from labeler.aws.label_index import LabelIndexTable
from labeler.aws.results import ResultsRepository
from labeler.events import normalize_sequencer
from labeler.models import ImageStatus, Label, ResultRecord, Stage
from labeler.pipeline import iso_timestamp
from labeler_tools.cli import app, core
from labeler_tools.deployment import LocalResources
from labeler_tools.local.server import LocalAws
from tests.integration.pipeline_helpers import discovery_dir

pytestmark = pytest.mark.integration

Labeler = Callable[..., Result]
#: Upload times of the seeded images: the first, a day apart after it.
DAY_ONE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, local_aws: LocalAws, stack: LocalResources) -> Path:
    """The discovery file `labeler local` would write for this stack."""
    return discovery_dir(tmp_path_factory.mktemp("labeler"), local_aws, stack, label_backend="onnx")


@pytest.fixture
def labeler(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Labeler:
    """The CLI on the session's stack, printing tables 80 columns wide (as when piped)."""
    monkeypatch.setattr(core, "console", Console(width=80, color_system=None))
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(app, [*args, "--data-dir", str(data_dir)], input=stdin)

    return invoke


@pytest.fixture
def repository(local_aws: LocalAws, stack: LocalResources) -> ResultsRepository:
    """Writes records as the store step does: each with its label index changes."""
    assert stack.labels_table
    client = local_aws.session().client("dynamodb")
    return ResultsRepository(client, stack.results_table, LabelIndexTable(client, stack.labels_table))


@pytest.fixture
def tag() -> str:
    """A suffix that makes this test's label names its own across owners."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def other_owner() -> str:
    return f"us-east-1:{uuid.uuid4()}"


def labeled(
    repository: ResultsRepository,
    owner: str,
    name: str,
    labels: Sequence[Label],
    day: int = 0,
    original_name: str | None = None,
) -> str:
    """Store a LABELED record of ``uploads/<owner>/<name>`` uploaded ``day`` days after DAY_ONE; its key."""
    key = f"uploads/{owner}/{name}"
    written = repository.put_if_newer(
        ResultRecord(
            owner=owner,
            image_name=key,
            bucket="test-uploads",
            status=ImageStatus.LABELED,
            timestamp=iso_timestamp(datetime.now(UTC)),
            uploaded_at=iso_timestamp(DAY_ONE + timedelta(days=day)),
            original_name=original_name,
            size=1,
            etag="e",
            sequencer=normalize_sequencer("0A"),
            execution_id=f"arn:aws:states:us-east-1:123456789012:execution:labeler:{uuid.uuid4()}",
            labels=list(labels),
            label_model_version="test",
        )
    )
    assert written
    return key


def output(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def rows(result: Result) -> list[str]:
    """A table's lines after its header and rule."""
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), result.stdout
    return lines[2:]


def test_labels_counts_images_per_label_most_first_per_owner_and_across_owners(
    labeler: Labeler, repository: ResultsRepository, owner: str, other_owner: str, tag: str
) -> None:
    animal, cat, dog, tabby = f"Animal {tag}", f"Cat {tag}", f"Dog {tag}", f"Tabby Cat {tag}"
    labeled(repository, owner, "a.jpg", [Label(name=tabby, confidence=95, parents=[cat, animal])])
    labeled(repository, owner, "b.jpg", [Label(name=dog, confidence=80, parents=[animal])])
    labeled(repository, other_owner, "c.jpg", [Label(name=cat, confidence=70, parents=[animal])])

    mine = output(labeler("labels", "--owner", owner, "--json"))
    everyone = output(labeler("labels", "--limit", "100000", "--json"))

    assert mine == [
        {"key": f"animal {tag}", "name": animal, "images": 2},
        {"key": f"cat {tag}", "name": cat, "images": 1},
        {"key": f"dog {tag}", "name": dog, "images": 1},
        {"key": f"tabby cat {tag}", "name": tabby, "images": 1},
    ]
    ours = [(count["name"], count["images"]) for count in everyone if count["key"].endswith(tag)]
    assert ours == [(animal, 3), (cat, 2), (dog, 1), (tabby, 1)]
    images = [count["images"] for count in everyone]
    assert images == sorted(images, reverse=True)  # most first, whoever's they are

    table = rows(labeler("labels", "--owner", owner))
    assert [line.split() for line in table] == [
        ["Animal", tag, "2"],
        ["Cat", tag, "1"],
        ["Dog", tag, "1"],
        ["Tabby", "Cat", tag, "1"],
    ]
    limited = labeler("labels", "--owner", owner, "--limit", "1")
    first, note = rows(limited)
    assert first.split() == ["Animal", tag, "2"]
    assert note.rstrip() == "... and 3 more (raise --limit to see them)"
    assert len(output(labeler("labels", "--owner", owner, "--limit", "1", "--json"))) == 1


def test_list_label_finds_an_images_own_labels_and_their_parents_newest_upload_first(
    labeler: Labeler, repository: ResultsRepository, owner: str, other_owner: str, tag: str
) -> None:
    cat, tabby = f"Cat {tag}", f"Tabby Cat {tag}"
    first = labeled(
        repository,
        owner,
        "1.jpg",
        [Label(name=tabby, confidence=95.5, parents=[cat]), Label(name="Sofa", confidence=60)],
        day=0,
        original_name="tabby on the sofa.jpg",
    )
    second = labeled(repository, owner, "2.jpg", [Label(name=cat, confidence=62.25)], day=1)
    labeled(repository, owner, "3.jpg", [Label(name=f"Dog {tag}", confidence=99)], day=2)
    theirs = labeled(repository, other_owner, "4.jpg", [Label(name=cat, confidence=88)], day=3)

    found = output(labeler("list", "--label", cat, "--owner", owner, "--json"))

    assert found == [
        {
            "key": second,
            "owner": owner,
            "original_name": None,
            "uploaded_at": "2026-03-02T12:00:00.000Z",
            "label": cat,
            "confidence": 62.25,
        },
        {
            "key": first,
            "owner": owner,
            "original_name": "tabby on the sofa.jpg",
            "uploaded_at": "2026-03-01T12:00:00.000Z",
            "label": cat,  # found by the parent of Tabby Cat, with its confidence
            "confidence": 95.5,
        },
    ]
    # Any spelling of a label; its own label finds an image under its own name.
    spelled = output(labeler("list", "--label", f"  TABBY   cat {tag.upper()} ", "--owner", owner, "--json"))
    assert [(image["key"], image["label"]) for image in spelled] == [(first, tabby)]
    confident = output(labeler("list", "--label", cat, "--owner", owner, "--min-confidence", "90", "--json"))
    assert [image["key"] for image in confident] == [first]
    # Across owners (no --owner): every owner's images, newest upload first.
    everyone = output(labeler("list", "--label", cat, "--json"))
    assert [(image["key"], image["owner"]) for image in everyone] == [
        (theirs, other_owner),
        (second, owner),
        (first, owner),
    ]
    assert [image["key"] for image in output(labeler("list", "--label", cat, "--limit", "2", "--json"))] == [
        theirs,
        second,
    ]
    only_theirs = output(labeler("list", "--label", cat, "--owner", other_owner, "--json"))
    assert [image["key"] for image in only_theirs] == [theirs]


def test_list_label_since_and_until_compare_with_the_upload_time(
    labeler: Labeler, repository: ResultsRepository, owner: str, tag: str
) -> None:
    cat = f"Cat {tag}"
    keys = [
        labeled(repository, owner, f"{day}.jpg", [Label(name=cat, confidence=90)], day=day)
        for day in range(4)
    ]

    def listed(*window: str) -> list[str]:
        return [image["key"] for image in output(labeler("list", "--label", cat, *window, "--json"))]

    assert listed("--since", "2026-03-02T12:00Z") == [keys[3], keys[2], keys[1]]
    assert listed("--until", "2026-03-02T12:00Z") == [keys[1], keys[0]]
    assert listed("--since", "2026-03-02", "--until", "2026-03-04") == [keys[2], keys[1]]
    assert listed("--since", "2026-03-02", "--limit", "1") == [keys[3]]
    assert listed("--since", "1h") == []


def test_list_label_table_has_one_line_per_image_in_80_columns_with_file_names_and_short_owners(
    labeler: Labeler, repository: ResultsRepository, owner: str, other_owner: str, tag: str
) -> None:
    cat = f"Cat {tag}"
    long_name = "a very long file name from the photographer's camera roll, 2026.jpeg"
    labeled(repository, owner, "x.jpg", [Label(name=cat, confidence=97.34)], day=1, original_name=long_name)
    labeled(repository, other_owner, "no-original-name.jpg", [Label(name=cat, confidence=51)], day=0)

    table = labeler("list", "--label", cat)
    one_owner = labeler("list", "--label", cat, "--owner", owner)

    assert table.stdout.splitlines()[0].split() == [
        "Uploaded",
        "(UTC)",
        "File",
        "Label",
        "Confidence",
        "Owner",
    ]
    newest, oldest = rows(table)
    assert newest.startswith("03-02 12:00 ") and "  a very long file na…  " in newest
    assert cat in newest and "97.3%" in newest and newest.endswith(f"{owner.split(':')[1][:8]}…")
    assert owner not in table.stdout  # the start of a guest's id is enough in 80 columns
    assert "no-original-name.jpg" in oldest and "51.0%" in oldest  # no file name: the key's last part
    assert one_owner.stdout.splitlines()[0].split()[-1] == "Confidence"  # --owner: no owner column
    assert len(rows(one_owner)) == 1

    wide = labeler("list", "--label", cat, "--wide")
    assert wide.exit_code == 0
    assert long_name in wide.stdout and owner in wide.stdout and f"uploads/{owner}/x.jpg" in wide.stdout


def test_nothing_labeled_or_found_says_so_on_stderr(labeler: Labeler, owner: str, tag: str) -> None:
    nothing = labeler("labels", "--owner", owner)

    assert nothing.exit_code == 0 and nothing.stdout == ""
    assert f"No image of owner {owner} is labeled yet" in nothing.stderr
    assert "labeler upload" in nothing.stderr and "labeler backfill" in nothing.stderr
    assert output(labeler("labels", "--owner", owner, "--json")) == []

    unknown = labeler("list", "--label", f"unicorn {tag}", "--min-confidence", "50")
    assert unknown.exit_code == 0 and unknown.stdout == ""
    assert f"No image is found by 'unicorn {tag}' at 50% or more" in unknown.stderr
    assert "labeler labels" in unknown.stderr
    assert output(labeler("list", "--label", f"unicorn {tag}", "--json")) == []


def test_the_images_a_label_finds_pipe_into_replay_as_keys(
    labeler: Labeler, repository: ResultsRepository, owner: str, tag: str
) -> None:
    key = labeled(repository, owner, "a.jpg", [Label(name=f"Cat {tag}", confidence=90)])
    found = labeler("list", "--label", f"cat {tag}", "--json")

    plan = output(labeler("replay", "--stdin", "--dry-run", "--json", stdin=found.stdout))

    assert [(item["key"], item["action"], item["reason"]) for item in plan["items"]] == [
        (key, "skip", "already LABELED")
    ]


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--label", "cat", "--status", "FAILED"], "--label finds LABELED images only"),
        (["--label", "   "], "name a label"),
        (["--min-confidence", "50"], "only with --label"),
        (["--label", "cat", "--min-confidence", "100.5"], "Invalid value for '--min-confidence'"),
        (["--label", "cat", "--min-confidence", "-1"], "Invalid value for '--min-confidence'"),
    ],
    ids=["status", "no label", "confidence without label", "over 100", "under 0"],
)
def test_label_options_that_do_not_fit_are_usage_errors(
    labeler: Labeler, arguments: list[str], says: str
) -> None:
    result = labeler("list", *arguments)

    assert result.exit_code == 1, result.output  # the CLI's usage error status (2: not labeled)
    assert says in result.stderr


def test_list_label_status_labeled_is_what_it_lists_anyway(
    labeler: Labeler, repository: ResultsRepository, owner: str, tag: str
) -> None:
    key = labeled(repository, owner, "a.jpg", [Label(name=f"Cat {tag}", confidence=90)])

    found = output(labeler("list", "--label", f"cat {tag}", "--status", "labeled", "--json"))

    assert [image["key"] for image in found] == [key]


def test_a_deployment_without_a_label_index_is_a_one_line_error(
    tmp_path: Path, local_aws: LocalAws, stack: LocalResources
) -> None:
    old = discovery_dir(tmp_path, local_aws, stack.model_copy(update={"labels_table": None}), "onnx")
    runner = CliRunner()

    for command in (["labels"], ["list", "--label", "cat"]):
        result = runner.invoke(app, [*command, "--data-dir", str(old)])

        assert result.exit_code == 1
        assert "has no label index (deploy the current version)" in result.stderr


def test_reindex_indexes_records_written_before_the_index_and_then_has_nothing_left_to_do(
    labeler: Labeler, repository: ResultsRepository, owner: str, tag: str
) -> None:
    unindexed = ResultsRepository(repository.client, repository.table_name)  # as before the index existed
    cat, tabby = f"Cat {tag}", f"Tabby Cat {tag}"
    for name in ("a.jpg", "b.jpg"):
        labeled(unindexed, owner, name, [Label(name=tabby, confidence=90, parents=[cat])])
    labeled(repository, owner, "c.jpg", [Label(name=cat, confidence=60)])  # indexed as it was stored
    rejected = competing(owner, "d.jpg", ImageStatus.REJECTED)
    claim = competing(owner, "e.jpg", ImageStatus.PROCESSING)
    assert unindexed.put_if_newer(rejected) and unindexed.put_if_newer(claim)
    assert output(labeler("labels", "--owner", owner, "--json")) == [
        {"key": cat.casefold(), "name": cat, "images": 1}
    ]

    first = output(labeler("reindex", "--owner", owner, "--json"))
    again = output(labeler("reindex", "--owner", owner, "--json"))

    assert first == {
        "records": 5, "indexed": 2, "unchanged": 2, "changed_meanwhile": 0, "in_progress": 1, "unreadable": 0
    }  # fmt: skip
    assert again == {**first, "indexed": 0, "unchanged": 4}
    assert output(labeler("labels", "--owner", owner, "--json")) == [
        {"key": cat.casefold(), "name": cat, "images": 3},
        {"key": tabby.casefold(), "name": tabby, "images": 2},
    ]
    found = output(labeler("list", "--label", tabby, "--owner", owner, "--json"))
    assert sorted(image["key"] for image in found) == [
        f"uploads/{owner}/a.jpg",
        f"uploads/{owner}/b.jpg",
    ]
    table = labeler("reindex", "--owner", owner)
    assert table.exit_code == 0 and "5 records read: 0 indexed anew, 4 already in step" in table.stdout


def test_a_reindex_of_a_record_read_before_a_newer_outcome_leaves_the_newer_outcomes_index(
    repository: ResultsRepository, owner: str, tag: str
) -> None:
    assert repository.label_index is not None
    old_label, new_label = f"Old {tag}", f"New {tag}"
    labeled(repository, owner, "a.jpg", [Label(name=old_label, confidence=90)])
    read = repository.get(owner, f"uploads/{owner}/a.jpg")
    assert read is not None
    newer = read.model_copy(
        update={
            "sequencer": normalize_sequencer("0B"),
            "execution_id": f"{read.execution_id}-2",
            "labels": [Label(name=new_label, confidence=80)],
        }
    )
    assert repository.put_if_newer(newer)

    assert repository.reindex(read) is False  # the record changed since it was read

    counts = {count.name: count.images for count in repository.label_index.counts(owner)}
    assert counts == {new_label: 1}


def competing(owner: str, name: str, status: ImageStatus) -> ResultRecord:
    return ResultRecord(
        owner=owner,
        image_name=f"uploads/{owner}/{name}",
        bucket="test-uploads",
        status=status,
        timestamp=iso_timestamp(datetime.now(UTC)),
        uploaded_at=iso_timestamp(DAY_ONE),
        size=1,
        etag="e",
        sequencer=normalize_sequencer("0A"),
        execution_id=f"arn:aws:states:us-east-1:123456789012:execution:labeler:{uuid.uuid4()}",
        error_code="UNSUPPORTED_FORMAT" if status is ImageStatus.REJECTED else None,
        stage=Stage.LABELING if status is ImageStatus.PROCESSING else None,
    )
