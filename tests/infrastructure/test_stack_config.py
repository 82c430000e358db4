"""Parts of the CDK app that need no synthesis: the layer's contents and hash, the deploy-time settings."""

from __future__ import annotations

import ast
import shutil
import tomllib
from pathlib import Path

import pytest
from aws_cdk import App

from cdk.image_labeler_stack import bundling
from cdk.image_labeler_stack.stack import StackConfig
from labeler.blueprint import FUNCTIONS, REPO_ROOT


def test_layer_requirements_are_the_pinned_runtime_dependencies_minus_boto3() -> None:
    pinned = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert bundling.runtime_requirements() == [req for req in pinned if not req.startswith("boto3")]
    assert all("==" in req for req in bundling.runtime_requirements())


def _module_file(module: str) -> Path:
    path = REPO_ROOT / "src" / Path(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _labeler_imports(source: Path) -> set[str]:
    """``labeler`` modules imported at module level (lazy imports in functions are not followed)."""
    found = set()
    for node in ast.parse(source.read_text()).body:
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found |= {name for name in names if name.split(".")[0] == "labeler" and _module_file(name).exists()}
    return found


def test_layer_ships_the_runtime_package_whole_and_every_module_the_handlers_import() -> None:
    shipped = {Path("labeler", path) for path in bundling.package_files()}
    runtime = REPO_ROOT / "src" / "labeler"
    on_disk = {
        path.relative_to(REPO_ROOT / "src")
        for path in runtime.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert shipped == on_disk
    todo = [spec.source_dir / "handler.py" for spec in FUNCTIONS]
    seen: set[Path] = set()
    while todo:
        for module in _labeler_imports(todo.pop()):
            path = _module_file(module)
            package_init = path.parent / "__init__.py"
            for needed in {path, package_init}:
                if needed not in seen:
                    seen.add(needed)
                    todo.append(needed)
    assert {path.relative_to(REPO_ROOT / "src") for path in seen} <= shipped
    assert Path("labeler/labels/rekognition.py") in shipped  # imported lazily by labeler.wiring
    assert not any(path.suffix in {".onnx", ".pyc"} for path in shipped)


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The package, pyproject.toml and constraints.txt copied where a test may change them."""
    package = tmp_path / "labeler"
    shutil.copytree(bundling.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    for name, source in (("PYPROJECT", bundling.PYPROJECT), ("CONSTRAINTS", bundling.CONSTRAINTS)):
        monkeypatch.setattr(bundling, name, Path(shutil.copy(source, tmp_path)))
    monkeypatch.setattr(bundling, "PACKAGE_DIR", package)
    return tmp_path


def test_layer_hash_covers_the_package_and_the_pins(project_copy: Path) -> None:
    original = bundling.layer_hash()
    assert bundling.layer_hash() == original

    (project_copy / "labeler_tools.py").write_text("# not in the runtime package\n")
    assert bundling.layer_hash() == original, "a file outside the runtime does not change what Lambda runs"

    settings = project_copy / "labeler" / "settings.py"
    settings.write_text(settings.read_text() + "\n")
    changed_source = bundling.layer_hash()
    assert changed_source != original

    constraints = project_copy / "constraints.txt"
    constraints.write_text(constraints.read_text().replace("pydantic_core==", "pydantic_core==0.0.0; "))
    assert bundling.layer_hash() != changed_source


def test_layer_targets_the_functions_runtime() -> None:
    assert bundling.python_version() == "3.14"
    assert bundling.PIP_PLATFORM.endswith("aarch64") == (bundling.ARCHITECTURE.name == "arm64")


def test_stack_config_defaults() -> None:
    config = StackConfig()
    assert (config.alert_email, config.dev_origin, config.upload_retention_days) == (None, None, 30)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"dev_origin": "localhost:5173"}, "devOrigin"),
        ({"dev_origin": "http://localhost:5173/path"}, "devOrigin"),
        ({"alert_email": "not-an-address"}, "alertEmail"),
        ({"upload_retention_days": 7}, "uploadRetentionDays"),
        ({"upload_retention_days": -1}, "uploadRetentionDays"),
        ({"library_bucket": "My_Photos"}, "libraryBucket"),
        ({"library_bucket": "photos", "library_prefix": "*"}, "libraryPrefix"),
        ({"library_bucket": "photos", "library_prefix": "2024/?/"}, "libraryPrefix"),
        ({"library_bucket": "photos", "library_prefix": "/2024/"}, "libraryPrefix"),
        ({"library_prefix": "2024/"}, "libraryPrefix needs libraryBucket"),
    ],
)
def test_stack_config_rejects_bad_context(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StackConfig(**settings)  # type: ignore[arg-type]


def test_stack_config_accepts_keep_forever_and_https_origins() -> None:
    assert (
        StackConfig(upload_retention_days=0, dev_origin="https://dev.example.com:8443").upload_retention_days
        == 0
    )


def test_stack_config_reads_cdk_context() -> None:
    context = {"alertEmail": "a@example.com", "devOrigin": "", "uploadRetentionDays": "45"}
    config = StackConfig.from_context(App(context=context).node)
    assert (config.alert_email, config.dev_origin, config.upload_retention_days) == (
        "a@example.com",
        None,
        45,
    )


def test_a_library_bucket_is_read_from_context_under_its_prefix() -> None:
    config = StackConfig.from_context(App(context={"libraryBucket": "my.photos-2024"}).node)
    assert (config.library_bucket, config.library_prefix) == ("my.photos-2024", "")
    given = {"libraryBucket": "photos", "libraryPrefix": "camera/2024/"}
    config = StackConfig.from_context(App(context=given).node)
    assert (config.library_bucket, config.library_prefix) == ("photos", "camera/2024/")
