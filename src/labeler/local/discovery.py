"""Where a running ``labeler local`` says where it runs. Light on purpose: the CLI imports it without
importing moto."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = Path(".labeler")
DISCOVERY_FILE = "local.json"


def discovery_path(data_dir: Path = DEFAULT_DATA_DIR) -> Path:
    return data_dir / DISCOVERY_FILE


def write_atomically(path: Path, text: str) -> None:
    """Readers (the CLI, tests, the benchmark) see the old file or the whole new one, never a part."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
