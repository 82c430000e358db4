"""Lambda code without Docker: pinned dependencies + the ``labeler`` package as one layer, built by pip.

One layer, not one bundle per function: a single pip run per synth, one copy of the dependencies in
the account, and the three functions always run the same version of the models they pass to each
other. Each function's own asset is just its ``functions/<name>/`` folder.

Powertools is bundled at the version pinned in ``pyproject.toml`` rather than taken from the public
Powertools layer: the code is tested against that version, and the public layer's ``latest`` SSM
parameter would change under a redeploy. boto3 is left to the Lambda runtime (it is there already,
and our calls - HeadObject, GetObject, DetectLabels, PutItem - are long stable).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from labeler.blueprint import REPO_ROOT

#: The newest Python runtime aws-cdk-lib knows. arm64 (Graviton) is ~20% cheaper per GB-second than
#: x86_64, and every dependency ships aarch64 wheels; nothing here needs x86.
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
PIP_PLATFORM = "manylinux2014_aarch64"

PACKAGE_DIR = REPO_ROOT / "src" / "labeler"
PYPROJECT = REPO_ROOT / "pyproject.toml"
CONSTRAINTS = REPO_ROOT / "constraints.txt"

#: Packages the Lambda Python runtime already provides.
PROVIDED_BY_RUNTIME = frozenset({"boto3", "botocore"})


def python_version() -> str:
    """``3.14`` for ``python3.14``: what pip must resolve wheels for."""
    return RUNTIME.name.removeprefix("python")


def _distribution(requirement: str) -> str:
    name = re.split(r"[\s\[=<>!~;@]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements() -> list[str]:
    """The functions' dependencies: ``[project].dependencies`` of pyproject.toml, minus the runtime's own."""
    dependencies: list[str] = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return [req for req in dependencies if _distribution(req) not in PROVIDED_BY_RUNTIME]


def package_files() -> Iterator[Path]:
    """Files of ``labeler`` (the whole runtime package), relative to its folder, in a stable order."""
    for path in sorted(PACKAGE_DIR.rglob("*")):
        relative = path.relative_to(PACKAGE_DIR)
        if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
            yield relative


def layer_hash() -> str:
    """Changes whenever the bundle would: pins, constraints, target platform, or any shipped source file.

    CDK's own fingerprint would only cover the asset folder, so a changed pin would deploy a stale layer.
    """
    digest = hashlib.sha256()
    for part in (python_version(), PIP_PLATFORM, *runtime_requirements()):
        digest.update(part.encode() + b"\0")
    digest.update(CONSTRAINTS.read_bytes())
    for relative in package_files():
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update((PACKAGE_DIR / relative).read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class PipLayerBundling:
    """Builds the layer on this machine (CDK would otherwise run Docker, which is not required here)."""

    # jsii passes the BundlingOptions positionally; the Python protocol spells them as keywords.
    def try_bundle(self, output_dir: str, *_options: Any, **_keywords: Any) -> bool:
        site = Path(output_dir) / "python"
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--target", str(site),
            "--platform", PIP_PLATFORM, "--implementation", "cp", "--python-version", python_version(),
            "--only-binary=:all:", "--constraint", str(CONSTRAINTS),
            *runtime_requirements(),
        ]  # fmt: skip
        subprocess.run(command, check=True)  # noqa: S603 - fixed argv, no shell
        shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts: never run in Lambda
        for relative in package_files():
            target = site / "labeler" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PACKAGE_DIR / relative, target)
        return True


def runtime_layer(scope: Construct, construct_id: str) -> lambda_.LayerVersion:
    """The layer with the pinned dependencies and the ``labeler`` package under ``python/``."""
    return lambda_.LayerVersion(
        scope,
        construct_id,
        description="image-labeler: the labeler package and its pinned dependencies",
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        code=lambda_.Code.from_asset(
            str(PACKAGE_DIR),
            asset_hash=layer_hash(),
            asset_hash_type=AssetHashType.CUSTOM,
            bundling=BundlingOptions(image=RUNTIME.bundling_image, local=PipLayerBundling()),
        ),
    )


def function_code(source_dir: Path) -> lambda_.Code:
    """A function's own folder (its handler); everything it imports comes from the layer."""
    return lambda_.Code.from_asset(str(source_dir), exclude=["__pycache__", "*.pyc"])
