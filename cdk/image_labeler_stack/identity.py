"""Guest identities for the upload page: each may upload under, and read, only its own identity id."""

from __future__ import annotations

from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from labeler.blueprint import RESULTS_TABLE
from labeler.models import UPLOAD_PREFIX

COGNITO = "cognito-identity.amazonaws.com"
#: IAM policy variable: the caller's Cognito identity id (``<region>:<uuid>``), the ``<owner>`` of its keys.
IDENTITY_ID = "${" + COGNITO + ":sub}"


def guest_policy(uploads: s3.IBucket, table: dynamodb.ITable, labels: dynamodb.ITable) -> iam.PolicyDocument:
    """PutObject and DeleteObject under ``uploads/<identity id>/``, read that identity's results partition
    and its label index partitions (every key of which starts with ``<identity id>#``).

    Uploads only in STANDARD (archive classes carry minimum charges and cannot be read by the pipeline),
    never with a customer-provided key (SSE-C), and with no encryption header but AES256 (SSE-S3) if any.
    DeleteObject leaves a delete marker; the versions are removed by the cleanup function, not the guest.
    """
    own_objects = uploads.arn_for_objects(f"{UPLOAD_PREFIX}{IDENTITY_ID}/*")
    return iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                sid="UploadOwnImages",
                actions=["s3:PutObject"],
                resources=[own_objects],
                conditions={
                    "StringEqualsIfExists": {
                        "s3:x-amz-storage-class": "STANDARD",
                        "s3:x-amz-server-side-encryption": "AES256",
                    },
                    "Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "true"},
                },
            ),
            iam.PolicyStatement(sid="DeleteOwnImages", actions=["s3:DeleteObject"], resources=[own_objects]),
            iam.PolicyStatement(
                sid="ReadOwnResults",
                actions=["dynamodb:GetItem", "dynamodb:Query"],
                resources=[table.table_arn, f"{table.table_arn}/index/{RESULTS_TABLE.by_time_index}"],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [IDENTITY_ID]}},
            ),
            # The table only: the ByLabel index spans every owner (operators'), and its partition key is
            # a label, which LeadingKeys could not tie to the caller. No owner part holds a '#' of its own
            # (labeler.aws.label_index.owner_part), so "<id>#*" matches only the caller's partitions,
            # never another owner's nor everyone's counts (#all#counts).
            iam.PolicyStatement(
                sid="ReadOwnLabels",
                actions=["dynamodb:GetItem", "dynamodb:Query"],
                resources=[labels.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{IDENTITY_ID}#*"]}},
            ),
        ]
    )


class Identity(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        uploads: s3.IBucket,
        table: dynamodb.ITable,
        labels: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        # Enhanced (simplified) flow only: credentials come from GetCredentialsForIdentity, which also
        # applies Cognito's scope-down policy for guests.
        self.pool = cognito.CfnIdentityPool(
            self, "Pool", allow_unauthenticated_identities=True, allow_classic_flow=False
        )
        self.guest_role = iam.Role(
            self,
            "GuestRole",
            description="Guests of the Image Labeler identity pool: own uploads, own results and labels only",
            assumed_by=iam.FederatedPrincipal(
                COGNITO,
                conditions={
                    "StringEquals": {f"{COGNITO}:aud": self.pool.ref},
                    "ForAnyValue:StringLike": {f"{COGNITO}:amr": "unauthenticated"},
                },
                assume_role_action="sts:AssumeRoleWithWebIdentity",
            ),
            inline_policies={"GuestAccess": guest_policy(uploads, table, labels)},
        )
        cognito.CfnIdentityPoolRoleAttachment(
            self, "Roles", identity_pool_id=self.pool.ref, roles={"unauthenticated": self.guest_role.role_arn}
        )
