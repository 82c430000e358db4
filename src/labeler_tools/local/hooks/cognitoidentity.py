"""Cognito Identity (``moto.cognitoidentity``): an identity pool keeps its id across restarts.

moto gives a new identity pool a random id, so every ``labeler local`` start would hand the browser
a new pool, a new guest identity, and none of its restored uploads. ``rename_identity_pool`` gives the
pool back the id it had before the restart (guest identities need nothing else: moto issues
credentials for any identity id). It edits moto's backend and replaces nothing of moto, so this
module has no ``install``.
"""

from __future__ import annotations

from moto.cognitoidentity.models import cognitoidentity_backends


def rename_identity_pool(account_id: str, region: str, current_id: str, wanted_id: str) -> None:
    """Give the Cognito identity pool ``current_id`` the id ``wanted_id`` (same region)."""
    backend = cognitoidentity_backends[account_id][region]
    pool = backend.identity_pools.pop(current_id)
    pool.identity_pool_id = wanted_id
    backend.identity_pools[wanted_id] = pool
    identities = backend.pools_identities.pop(current_id)
    identities["IdentityPoolId"] = wanted_id
    backend.pools_identities[wanted_id] = identities
