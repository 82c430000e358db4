"""``labeler``: the operator's command line (the console script is ``labeler_tools.cli:app``).

- ``core``: the app, its exit statuses, and the output every command shares
- ``options``: options several commands take, the target options among them (declared once)
- ``local``, ``upload``, ``records`` (list, status), ``labels`` (labels, reindex), ``executions``,
  ``replay``, ``delete``, ``backfill``: the commands
- ``render``: how their results look in a terminal

Commands parse options, call ``labeler_tools.ops``, render, and pick the exit status.
"""

from __future__ import annotations

from labeler_tools.cli import backfill, delete, executions, labels, local, records, replay, upload
from labeler_tools.cli.core import app

app.command()(local.local)
app.command()(upload.upload)
app.command()(records.status)
app.command("list")(records.list_records)
app.command()(labels.labels)
app.command()(labels.reindex)
app.add_typer(executions.app, name="executions")
app.command()(replay.replay)
app.command()(delete.delete)
app.command()(backfill.backfill)

__all__ = ["app"]
