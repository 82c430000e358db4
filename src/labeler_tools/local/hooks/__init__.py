"""Hooks that close moto's gaps so the real pipeline runs on one machine (pinned to moto 5.2.5).

One module per moto service, named as moto names it (``core`` for ``moto.core``), each replacing a
few small, named pieces of moto, and each covered by contract tests in ``tests/integration/hooks/``
that fail loudly if a moto upgrade moves them. ``utilities`` holds what several of them share;
``s3_storage`` is S3's second module (object bodies in files instead of memory).
``cognitoidentity`` replaces nothing (it renames a pool in moto's backend) and is not installed;
``core.route_in_process_calls`` is turned on by ``LocalAws`` on its own, before moto's backends are
reset.

``install`` installs the rest in a fixed order, so every start patches moto the same way. The
services' hooks replace disjoint pieces of moto, so no module depends on another's being installed
first; the one order that matters is inside ``s3.install`` (its delete event is wrapped around moto's
``delete_object`` before the lock is).
"""

from __future__ import annotations

from collections.abc import Callable

from labeler_tools.local.hooks import awslambda, core, dynamodb, events, s3, s3_storage, stepfunctions


def install(runtime: awslambda.LambdaRuntime, sequencer: Callable[[], str], retry_wait_factor: float) -> None:
    """Install every service's hooks: Lambda Invoke runs through ``runtime``, S3 events carry
    ``sequencer``'s sequencers, and ASL Retry sleeps are scaled by ``retry_wait_factor``."""
    awslambda.install(runtime)
    events.install()
    s3.install(sequencer)
    s3_storage.install()
    dynamodb.install()
    core.install()
    stepfunctions.install(retry_wait_factor)
