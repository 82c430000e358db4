"""Where a running ``labeler local`` says where it runs. Light on purpose: the CLI imports it without
importing moto."""

from __future__ import annotations

from pathlib import Path

DEFAULT_DATA_DIR = Path(".labeler")
DISCOVERY_FILE = "local.json"


def discovery_path(data_dir: Path = DEFAULT_DATA_DIR) -> Path:
    return data_dir / DISCOVERY_FILE
