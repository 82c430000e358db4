"""Summarise a finished ``mutmut run``: a score per mutated file, the survivors with their diffs, and
whether each survivor is listed as equivalent (``mutation-equivalents.toml``, next to ``[tool.mutmut]``).

Writes the JSON report and exits 1 when a file scores under the bar, when a survivor is not listed,
when a listed mutant no longer survives (the list must stay true), or when a mutant was not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tomllib
from collections import Counter
from importlib.metadata import version
from pathlib import Path
from typing import Any

from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code

REPO = Path(__file__).resolve().parents[1]
#: Statuses that mean a test noticed the mutant (a mutant that makes a test hang is noticed too).
DETECTED = frozenset({"killed", "timeout", "caught by type check", "segfault"})


def mutated_files() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(config["only_mutate"])


def equivalents() -> dict[str, str]:
    listed: dict[str, str] = tomllib.loads((REPO / "mutation-equivalents.toml").read_text())["equivalent"]
    return listed


def exit_codes(source: str) -> dict[str, int | None]:
    meta = REPO / "mutants" / f"{source}.meta"
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    return codes


def report(minimum: float, seconds: float | None) -> dict[str, Any]:
    listed = equivalents()
    files: dict[str, Any] = {}
    survivors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for source in mutated_files():
        statuses = {name: status_by_exit_code[code] for name, code in exit_codes(source).items()}
        seen.update(statuses)
        counts = Counter(statuses.values())
        detected = sum(counts[status] for status in DETECTED)
        survived = [name for name, status in statuses.items() if status == "survived"]
        equivalent = [name for name in survived if name in listed]
        total = len(statuses)
        files[source] = {
            "mutants": total,
            "killed": counts["killed"],
            "timeout": counts["timeout"],
            "survived": len(survived),
            "equivalent": len(equivalent),
            "not_run": total - detected - len(survived),
            "score": round(detected / total, 4) if total else 1.0,
            "score_of_non_equivalent": round(detected / (total - len(equivalent)), 4) if total else 1.0,
        }
        survivors += [
            {
                "mutant": name,
                "file": source,
                "equivalent": listed.get(name),
                "diff": get_diff_for_mutant(name, path=source),
            }
            for name in survived
        ]
    problems: list[str] = []
    for source, stats in files.items():
        if stats["score"] < minimum:
            problems.append(f"{source}: score {stats['score']:.1%} is under {minimum:.0%}")
        if stats["not_run"]:
            problems.append(f"{source}: {stats['not_run']} mutants were not run")
    surviving = {survivor["mutant"] for survivor in survivors}
    problems += [f"survivor not listed as equivalent: {name}" for name in surviving if name not in listed]
    problems += [f"listed as equivalent, not a survivor: {name}" for name in listed if name not in surviving]
    return {
        "command": "make mutation",
        "mutmut": version("mutmut"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.node()}",
        "seconds": seconds,
        "minimum_score": minimum,
        "files": files,
        "survivors": survivors,
        "problems": problems,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=REPO / "results" / "mutation.json")
    parser.add_argument("--minimum", type=float, default=0.9, help="lowest score a file may have")
    parser.add_argument("--seconds", type=float, default=None, help="how long the run took")
    arguments = parser.parse_args()
    os.chdir(REPO)  # mutmut reads its mutants relative to the working directory
    result = report(arguments.minimum, arguments.seconds)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{'file':<28} {'mutants':>7} {'killed':>7} {'timeout':>7} {'survived':>8} {'equiv.':>6} {'score':>6}"
    )
    for source, stats in result["files"].items():
        counts = (stats[key] for key in ("mutants", "killed", "timeout", "survived", "equivalent"))
        print(
            f"{source.removeprefix('src/labeler/'):<22}"
            + "".join(f"{count:>9}" for count in counts)
            + f"{stats['score']:>9.1%}"
        )
    for survivor in result["survivors"]:
        if survivor["equivalent"] is None:
            print(f"\n{survivor['mutant']} survived:\n{survivor['diff']}")
    for problem in result["problems"]:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"report: {arguments.output}")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
