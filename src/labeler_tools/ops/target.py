"""The one place that decides where ``labeler`` sends its AWS calls.

Two kinds of target, one shape (:class:`Target`: region, resource names, clients):

- local: a running ``labeler local``, found through its discovery file (``<data dir>/local.json``), or
  any endpoint given with ``--endpoint-url`` (resource names are then the local defaults). Calls go over
  HTTP with throwaway credentials, so nothing is ever signed with a real account's keys.
- AWS: ``--stack NAME`` (with ``--profile`` / ``--region`` or the usual AWS environment); every resource
  comes from the CloudFormation stack's outputs, none is typed by hand.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, ProfileNotFound
from pydantic import ValidationError

from labeler.aws.codes import error_code, error_message
from labeler.aws.label_index import LabelIndexTable
from labeler.aws.results import ResultsRepository
from labeler_tools.deployment import (
    DEFAULT_DATA_DIR,
    Deployment,
    DiscoveryUnreadable,
    StackNames,
    discovery_path,
    read_discovery,
)
from labeler_tools.ops.errors import OperatorError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

#: moto accepts any credentials; these make sure a local target never signs with a real account's keys.
_LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)
_NOT_RUNNING_HINT = "Start one with `make run` or pass --endpoint-url."


class TargetError(OperatorError):
    """The deployment could not be found or reached. The message is one line, shown as is (exit 1)."""


@dataclass(frozen=True)
class Target:
    """A deployment the CLI operates on: where it is, what its resources are called, clients for them."""

    #: For people: "local stack at http://127.0.0.1:4566" or "stack ImageLabeler (eu-west-1)".
    description: str
    deployment: Deployment
    session: boto3.Session
    #: A stack on this machine: no AWS console. Its calls go to ``endpoint_url`` (over HTTP from
    #: another process) or, when that is None, wherever the session routes them (in process).
    local: bool = False
    endpoint_url: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def region(self) -> str:
        return self.session.region_name or ""

    @property
    def upload_bucket(self) -> str:
        return self.deployment.upload_bucket

    @property
    def results_table(self) -> str:
        return self.deployment.results_table

    @property
    def state_machine_arn(self) -> str:
        return self.deployment.state_machine_arn

    def results(self) -> ResultsRepository:
        """The results table; an outcome written through it keeps the label index in step."""
        index = self.label_index() if self.deployment.labels_table else None
        return ResultsRepository(self.dynamodb, self.results_table, index)

    def label_index(self) -> LabelIndexTable:
        if not self.deployment.labels_table:
            raise TargetError(f"The {self.description} has no label index (deploy the current version).")
        return LabelIndexTable(self.dynamodb, self.deployment.labels_table)

    @property
    def account(self) -> str:
        return self.deployment.account

    @property
    def s3(self) -> S3Client:
        return self._client("s3")  # type: ignore[no-any-return]

    @property
    def dynamodb(self) -> DynamoDBClient:
        return self._client("dynamodb")  # type: ignore[no-any-return]

    @property
    def sfn(self) -> SFNClient:
        return self._client("stepfunctions")  # type: ignore[no-any-return]

    def _client(self, service: str) -> Any:
        """Each client once, on first use (most commands need one or two); sessions are not thread-safe."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.session.client(  # type: ignore[call-overload]
                    service, endpoint_url=self.endpoint_url, config=_CONFIG
                )
            return self._clients[service]

    def console_url(self, execution_arn: str) -> str | None:
        """The AWS console page of an execution (None for a local target: there is no console)."""
        if self.local:
            return None
        region = self.region
        return (
            f"https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{execution_arn}"
        )


def read_stack_outputs(cloudformation: Any, stack: str) -> Deployment:
    """DescribeStacks -> the outputs, or a TargetError that says what to check."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        code, message = error_code(error), error_message(error)
        region = cloudformation.meta.region_name
        if code == "ValidationError" and "does not exist" in message:
            raise TargetError(
                f"Stack {stack!r} not found in {region}. Check --stack, --region and --profile."
            ) from error
        raise TargetError(f"Could not read stack {stack!r} in {region}: {code}: {message}") from error
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
    try:
        return Deployment.model_validate(outputs, by_alias=True, by_name=False)
    except ValidationError as error:
        missing = sorted(str(problem["loc"][0]) for problem in error.errors())
        raise TargetError(
            f"Stack {stack!r} has no output {', '.join(missing)}: is it an Image Labeler stack "
            f"(deployed with `make deploy`)?"
        ) from error


def aws_session(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """Credentials and region from --profile / --region, else the usual AWS environment and config."""
    return boto3.Session(profile_name=profile, region_name=region)


def stack_target(stack: str, profile: str | None = None, region: str | None = None) -> Target:
    """A deployed stack: credentials from the profile / environment, resources from the stack outputs."""
    try:
        session = aws_session(profile, region)
        cloudformation = session.client("cloudformation", config=_CONFIG)
        outputs = read_stack_outputs(cloudformation, stack)
    except ProfileNotFound as error:
        raise TargetError(
            f"AWS profile {profile!r} not found (see `aws configure list-profiles`)."
        ) from error
    except NoRegionError as error:
        raise TargetError("No AWS region: pass --region or set AWS_REGION.") from error
    except NoCredentialsError as error:
        raise TargetError(
            "No AWS credentials: pass --profile, set AWS_PROFILE, or run `aws sso login`."
        ) from error
    return Target(session=session, description=f"stack {stack} ({outputs.region})", deployment=outputs)


@functools.cache
def local_session(region: str) -> boto3.Session:
    """A session with throwaway credentials that ignores AWS_PROFILE (which may name a profile that
    does not exist on this machine): local targets never need, or leak, real credentials.

    One per process and region: each new session loads botocore's models again (about half a second).
    """
    botocore_session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    return boto3.Session(botocore_session=botocore_session, region_name=region, **_LOCAL_CREDENTIALS)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _probe(endpoint_url: str) -> Deployment:
    """An endpoint without a discovery file: the local stack's default names, the state machine looked up."""
    names = StackNames()
    sfn = local_session("us-east-1").client("stepfunctions", endpoint_url=endpoint_url, config=_CONFIG)
    try:
        machines = sfn.list_state_machines()["stateMachines"]
    except (BotoCoreError, ClientError) as error:
        raise TargetError(f"Nothing answers at {endpoint_url} ({error}).") from error
    arns = [machine["stateMachineArn"] for machine in machines if machine["name"] == names.state_machine]
    if not arns:
        raise TargetError(
            f"No Image Labeler stack at {endpoint_url} (no state machine {names.state_machine!r})."
        )
    return Deployment(
        region="us-east-1",
        upload_bucket=names.upload_bucket,
        results_table=names.results_table,
        labels_table=names.labels_table,
        state_machine_arn=arns[0],
    )


def local_target(data_dir: Path = DEFAULT_DATA_DIR, endpoint_url: str | None = None) -> Target:
    """The running ``labeler local`` of ``data_dir``; ``endpoint_url`` overrides its discovery file."""
    path = discovery_path(data_dir)
    try:
        discovery = read_discovery(data_dir)
    except DiscoveryUnreadable as error:
        raise TargetError(str(error)) from error
    deployment: Deployment
    if endpoint_url is not None:  # names from the discovery file when there is one
        deployment, url = discovery or _probe(endpoint_url), endpoint_url
    elif discovery is None:
        raise TargetError(f"No local stack is running (no {path}). {_NOT_RUNNING_HINT}")
    elif not _alive(discovery.pid):
        raise TargetError(
            f"No local stack is running ({path} is left over from process {discovery.pid}). "
            + _NOT_RUNNING_HINT
        )
    else:
        deployment, url = discovery, discovery.endpoint_url
    return Target(
        session=local_session(deployment.region),
        description=f"local stack at {url}",
        deployment=deployment,
        local=True,
        endpoint_url=url,
    )


def resolve_target(
    *,
    stack: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    data_dir: Path = DEFAULT_DATA_DIR,
) -> Target:
    """``--stack`` selects AWS; otherwise the local stack. Contradictory options are a TargetError."""
    if stack:
        if endpoint_url:
            raise TargetError("--stack (AWS) and --endpoint-url (local) exclude each other.")
        return stack_target(stack, profile, region)
    if profile or region:
        raise TargetError("--profile and --region pick an AWS account and region: add --stack NAME.")
    return local_target(data_dir, endpoint_url)
