"""Errors an operator fixes by changing the command (or starting the stack): one line, exit status 1."""

from __future__ import annotations


class OperatorError(Exception):
    """Base of the errors the CLI shows as one line, without a traceback."""
