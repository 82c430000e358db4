"""Contract tests for labeler_tools.local.hooks.cognitoidentity: a moto upgrade that changes how its
backend keeps identity pools fails here."""

from __future__ import annotations

import pytest

from labeler_tools.local.server import LocalAws

pytestmark = pytest.mark.integration


def test_an_identity_pool_can_get_back_its_earlier_id(local_aws: LocalAws, owner: str) -> None:
    from labeler_tools.local.hooks import cognitoidentity

    cognito = local_aws.session().client("cognito-identity")
    pool = cognito.create_identity_pool(IdentityPoolName=f"p{owner[:8]}", AllowUnauthenticatedIdentities=True)
    earlier = f"us-east-1:{owner}"

    cognitoidentity.rename_identity_pool("123456789012", "us-east-1", pool["IdentityPoolId"], earlier)

    assert (
        cognito.describe_identity_pool(IdentityPoolId=earlier)["IdentityPoolName"] == pool["IdentityPoolName"]
    )
    assert cognito.get_id(IdentityPoolId=earlier)["IdentityId"].startswith("us-east-1:")
    with pytest.raises(cognito.exceptions.ResourceNotFoundException):
        cognito.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
    cognito.delete_identity_pool(IdentityPoolId=earlier)
