"""``python -m labeler_tools.cli``: the same as the ``labeler`` console script."""

from labeler_tools.cli import app

app()
