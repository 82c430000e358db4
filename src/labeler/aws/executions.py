"""Step Functions executions, as a backfill's plan step asks about the one holding a claim."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from labeler.aws.codes import error_code
from labeler.models import ExecutionStatus

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


@dataclass(frozen=True)
class StepFunctionsExecutions:
    client: SFNClient

    def running(self, execution_arn: str) -> bool | None:
        try:
            status = self.client.describe_execution(executionArn=execution_arn)["status"]
        except ClientError as error:
            if error_code(error) == "ExecutionDoesNotExist":
                return None
            raise
        return not ExecutionStatus(status).finished  # RUNNING, or PENDING_REDRIVE
