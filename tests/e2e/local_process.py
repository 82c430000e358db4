"""`labeler local` started as its own process, the way a user runs it (shared by the e2e tests)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from labeler_tools.local.process import LABELER, LocalProcess

__all__ = ["LABELER", "Running"]


class Running(LocalProcess):
    """A :class:`LocalProcess` whose failures to start or to stop cleanly fail the test."""

    def __init__(self, data_dir: Path, arguments: Sequence[str] = ()) -> None:
        try:
            super().__init__(data_dir, arguments)
        except RuntimeError as error:
            pytest.fail(str(error))

    def stop(self, timeout_s: float = 60) -> str:
        output = super().stop(timeout_s)
        assert self.process.returncode == 0, output
        return output
