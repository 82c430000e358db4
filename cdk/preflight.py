"""Deploy preflight: the label function's reserved concurrency must leave the account 10 unreserved.

Lambda refuses a reservation that would drop ``UnreservedConcurrentExecutions`` below 10, and a new
account's whole concurrency limit is often just 10, so ``rekognitionTps=5`` would fail the deployment
half way. ``make deploy`` runs this first; it prints the ``rekognitionTps`` to deploy with: the
requested value when it fits, else 0 (no reservation) with a warning on stderr. The quotas and the
volume alarm still bound the cost; request a concurrency increase and redeploy to get the reservation.

    python -m cdk.preflight --stack ImageLabeler --requested 5
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

#: Lambda keeps at least this many executions unreserved per account and region.
MIN_UNRESERVED = 10
#: The label function's logical id starts with this (its construct path Pipeline/LabelFunction).
LABEL_LOGICAL_ID_PREFIX = "PipelineLabelFunction"


@dataclass(frozen=True)
class Decision:
    tps: int
    message: str | None = None


def decide(requested: int, unreserved: int, current: int = 0) -> Decision:
    """The reservation to deploy. ``unreserved``: the account's UnreservedConcurrentExecutions now;
    ``current``: what the deployed label function already reserves (freed when it is replaced)."""
    if requested < 0:
        raise ValueError(f"rekognitionTps must be >= 0, not {requested}")
    if requested == 0:
        return Decision(0)
    left = unreserved + current - requested
    if left >= MIN_UNRESERVED:
        return Decision(requested)
    return Decision(
        0,
        f"preflight: reserving {requested} executions for the label function would leave {left} unreserved "
        f"(Lambda requires {MIN_UNRESERVED}); deploying with rekognitionTps=0 (no reservation). Request a "
        "higher Lambda concurrency quota (Service Quotas) and redeploy to cap Rekognition calls.",
    )


def current_reservation(lambda_client: Any, cloudformation: Any, stack: str) -> int:
    """The deployed label function's reserved concurrency, 0 if the stack or the function is new."""
    try:
        resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    except Exception:
        return 0
    for resource in resources:
        if resource["ResourceType"] == "AWS::Lambda::Function" and resource["LogicalResourceId"].startswith(
            LABEL_LOGICAL_ID_PREFIX
        ):
            answer = lambda_client.get_function_concurrency(FunctionName=resource["PhysicalResourceId"])
            return int(answer.get("ReservedConcurrentExecutions", 0))
    return 0


def check(lambda_client: Any, cloudformation: Any, stack: str, requested: int) -> Decision:
    settings = lambda_client.get_account_settings()["AccountLimit"]
    return decide(
        requested,
        int(settings["UnreservedConcurrentExecutions"]),
        current_reservation(lambda_client, cloudformation, stack),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--requested", type=int, required=True)
    args = parser.parse_args(argv)
    import boto3

    decision = check(boto3.client("lambda"), boto3.client("cloudformation"), args.stack, args.requested)
    if decision.message:
        print(decision.message, file=sys.stderr)
    print(decision.tps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
