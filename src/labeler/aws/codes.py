"""What AWS answered, read from a botocore ``ClientError`` (its ``Error`` may be missing or partial)."""

from __future__ import annotations

from botocore.exceptions import ClientError


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def error_summary(error: ClientError) -> str:
    """``Code: Message``, one line for people."""
    return f"{error_code(error)}: {error_message(error)}"


def cancellation_reasons(error: ClientError) -> list[str]:
    """A cancelled transaction's reason per action, in the actions' order ("None" for one that was fine)."""
    return [str(reason.get("Code")) for reason in error.response.get("CancellationReasons", [])]
