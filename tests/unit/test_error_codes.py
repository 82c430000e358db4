"""What the code reads from a ``ClientError``, including the partial answers botocore can hand back."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from labeler.aws.codes import error_code, error_message, error_summary


def client_error(response: dict[str, object]) -> ClientError:
    return ClientError(response, "PutItem")  # type: ignore[arg-type]


def test_a_full_error_reads_as_code_and_message() -> None:
    error = client_error(
        {"Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"}}
    )
    assert error_code(error) == "ConditionalCheckFailedException"
    assert error_message(error) == "The conditional request failed"
    assert error_summary(error) == "ConditionalCheckFailedException: The conditional request failed"


@pytest.mark.parametrize("response", [{}, {"Error": {}}], ids=["no Error", "empty Error"])
def test_a_missing_code_or_message_reads_as_empty_not_none(response: dict[str, object]) -> None:
    error = client_error(response)
    assert error_code(error) == ""
    assert error_message(error) == ""
    assert error_summary(error) == ": "


def test_a_code_without_a_message_keeps_the_code() -> None:
    error = client_error({"Error": {"Code": "ThrottlingException"}})
    assert (error_code(error), error_message(error)) == ("ThrottlingException", "")
    assert error_summary(error) == "ThrottlingException: "
