import assert from "node:assert/strict";
import { test } from "node:test";

import {
  CHIPS_SHOWN,
  NO_FILTER,
  chipsView,
  confidenceText,
  countsPartition,
  entriesPartition,
  filterAnnouncement,
  filterText,
  findLabel,
  foundRecords,
  imagesText,
  isFiltering,
  labelCounts,
  labelFor,
  labelKey,
  moveActive,
  needsQuery,
  nextFilter,
  noImagesMessage,
  noMatchMessage,
  ownerPart,
  parseConfidence,
  shownText,
  suggest,
} from "../src/lib/search.js";

/** config.json's labelIndex, as `labeler.blueprint.PageLabelIndex` writes it. */
const INDEX = {
  partitionKey: "Partition",
  sortKey: "Sort",
  entriesInfix: "#label#",
  countsSuffix: "#counts",
  countAttribute: "Images",
};
const OWNER = "us-east-1:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

const count = (name, images) => ({ key: labelKey(name), name, images });
const COUNTS = [
  count("Cat", 3),
  count("Animal", 4),
  count("Tabby Cat", 2),
  count("Domestic Cat", 3),
  count("Espresso", 1),
  count("Coffee", 1),
  count("Catamaran", 1),
  count("Wildcat", 1),
].sort((a, b) => b.images - a.images || a.name.localeCompare(b.name));

test("a label's key is the Python one: words joined by one space, lower case", () => {
  assert.equal(labelKey("Tabby Cat"), "tabby cat");
  assert.equal(labelKey("  tabby \t CAT \n"), "tabby cat");
  assert.equal(labelKey("Sports\u00a0Car"), "sports car"); // str.split() splits on every Unicode space
  assert.equal(labelKey(""), "");
  assert.equal(labelKey(undefined), "");
});

test("an owner's partitions start with the owner, '#' and '%' percent-encoded (owner_part)", () => {
  assert.equal(ownerPart(OWNER), OWNER); // a Cognito identity id needs no encoding
  assert.equal(ownerPart("a#b%23c"), "a%23b%2523c");
  assert.equal(entriesPartition(INDEX, OWNER, "tabby cat"), `${OWNER}#label#tabby cat`);
  assert.equal(countsPartition(INDEX, OWNER), `${OWNER}#counts`);
  // An owner whose id holds '#' cannot be read as another owner's label partition.
  assert.equal(entriesPartition(INDEX, "x#label#cat", "dog"), "x%23label%23cat#label#dog");
  assert.equal(countsPartition(INDEX, "#all"), "%23all#counts");
});

test("chips: the owner's counts without zeros, most images first, then by name in lower case", () => {
  const items = [
    { Partition: `${OWNER}#counts`, Sort: "espresso", Name: "Espresso", Images: 1 },
    { Partition: `${OWNER}#counts`, Sort: "cat", Name: "Cat", Images: 2 },
    { Partition: `${OWNER}#counts`, Sort: "tabby cat", Name: "Tabby Cat", Images: 0 }, // left the label
    { Partition: `${OWNER}#counts`, Sort: "animal", Name: "Animal", Images: 2 },
    { Partition: `${OWNER}#counts`, Sort: "coffee", Images: 1 }, // no name: the key stands in
  ];
  assert.deepEqual(labelCounts(items, INDEX), [
    { key: "animal", name: "Animal", images: 2 },
    { key: "cat", name: "Cat", images: 2 },
    { key: "coffee", name: "coffee", images: 1 },
    { key: "espresso", name: "Espresso", images: 1 },
  ]);
  assert.deepEqual(labelCounts([], INDEX), []);
});

test("a dozen chips show, with a button for all of them, and back", () => {
  const many = Array.from({ length: 20 }, (_, index) => count(`Label ${index}`, 20 - index));
  const some = chipsView(many, false);
  assert.equal(some.shown.length, CHIPS_SHOWN);
  assert.deepEqual(some.shown, many.slice(0, CHIPS_SHOWN));
  assert.equal(some.toggle, "Show all 20 labels");
  assert.deepEqual(chipsView(many, true), { shown: many, toggle: "Show fewer labels" });
  const few = many.slice(0, CHIPS_SHOWN);
  assert.deepEqual(chipsView(few, false), { shown: few, toggle: null });
  assert.deepEqual(chipsView([], true), { shown: [], toggle: null });
});

test("type-ahead: the label itself, then labels starting with it, with a word starting with it, containing it", () => {
  assert.deepEqual(
    suggest(COUNTS, "cat").map((label) => label.name),
    ["Cat", "Catamaran", "Domestic Cat", "Tabby Cat", "Wildcat"],
  );
  assert.deepEqual(
    suggest(COUNTS, "  CA").map((label) => label.name),
    ["Cat", "Catamaran", "Domestic Cat", "Tabby Cat", "Wildcat"],
  );
  assert.deepEqual(
    suggest(COUNTS, "co").map((label) => label.name),
    ["Coffee"],
  );
  assert.deepEqual(suggest(COUNTS, "dog"), []);
  assert.deepEqual(suggest(COUNTS, "   "), []);
  assert.equal(suggest(COUNTS, "a", 3).length, 3);
});

test("within one kind of match, labels that find more images come first", () => {
  const counts = [count("Tabby Cat", 1), count("Tiger Cat", 5)];
  assert.deepEqual(
    suggest(counts, "cat").map((label) => label.name),
    ["Tiger Cat", "Tabby Cat"],
  );
});

test("the label typed exactly (any spacing and case) is found; part of one is not", () => {
  assert.equal(findLabel(COUNTS, " tabby   CAT ")?.name, "Tabby Cat");
  assert.equal(findLabel(COUNTS, "tabby"), undefined);
  assert.equal(findLabel(COUNTS, ""), undefined);
});

test("a card's label stands for its chip, or for its key when the chips have not caught up", () => {
  assert.deepEqual(labelFor(COUNTS, "Tabby Cat"), { key: "tabby cat", name: "Tabby Cat" });
  assert.deepEqual(labelFor([], "Egyptian Mau"), { key: "egyptian mau", name: "Egyptian Mau" });
});

test("arrow keys move through the options and wrap around", () => {
  assert.equal(moveActive(-1, 1, 3), 0);
  assert.equal(moveActive(-1, -1, 3), 2);
  assert.equal(moveActive(0, 1, 3), 1);
  assert.equal(moveActive(2, 1, 3), 0);
  assert.equal(moveActive(0, -1, 3), 2);
  assert.equal(moveActive(5, 1, 3), 0); // the list got shorter
  assert.equal(moveActive(0, 1, 0), -1);
});

test("the confidence choice: any, 50, 80 or 90 percent", () => {
  assert.equal(parseConfidence("80"), 80);
  assert.equal(parseConfidence("0"), 0);
  assert.equal(parseConfidence("75"), 0);
  assert.equal(parseConfidence("x"), 0);
  assert.equal(confidenceText(0), "any confidence");
  assert.equal(confidenceText(90), "90% confidence or more");
});

test("the filter: choose a label, change the confidence, toggle, clear", () => {
  const cat = { key: "cat", name: "Cat" };
  const espresso = { key: "espresso", name: "Espresso" };
  assert.equal(isFiltering(NO_FILTER), false);
  const byCat = nextFilter(NO_FILTER, { type: "choose", label: cat });
  assert.deepEqual(byCat, { label: cat, minConfidence: 0 });
  assert.equal(isFiltering(byCat), true);
  assert.equal(nextFilter(byCat, { type: "choose", label: { ...cat } }), byCat, "the same label again");
  const strict = nextFilter(byCat, { type: "confidence", value: 80 });
  assert.deepEqual(strict, { label: cat, minConfidence: 80 });
  assert.equal(nextFilter(strict, { type: "confidence", value: 80 }), strict);
  // Another label keeps the confidence; so does a clear.
  assert.deepEqual(nextFilter(strict, { type: "choose", label: espresso }), { label: espresso, minConfidence: 80 });
  const cleared = nextFilter(strict, { type: "clear" });
  assert.deepEqual(cleared, { label: null, minConfidence: 80 });
  assert.equal(nextFilter(cleared, { type: "clear" }), cleared);
  // A chip toggles: its label, or back to every upload.
  assert.deepEqual(nextFilter(byCat, { type: "toggle", label: cat }), NO_FILTER);
  assert.deepEqual(nextFilter(byCat, { type: "toggle", label: espresso }), { label: espresso, minConfidence: 0 });
  assert.equal(nextFilter(byCat, { type: "unknown" }), byCat);
  // The confidence alone, with no label, queries nothing.
  assert.equal(needsQuery(NO_FILTER, { label: null, minConfidence: 50 }), false);
  assert.equal(needsQuery(NO_FILTER, byCat), true);
  assert.equal(needsQuery(byCat, strict), true);
  assert.equal(needsQuery(strict, { label: cat, minConfidence: 80 }), false);
});

test("what the page says about a filter and what it found", () => {
  const cat = { label: { key: "cat", name: "Cat" }, minConfidence: 0 };
  const strict = { ...cat, minConfidence: 90 };
  assert.equal(filterText(NO_FILTER), "");
  assert.equal(filterText(cat), "Labeled “Cat”, any confidence");
  assert.equal(filterText(strict), "Labeled “Cat”, 90% confidence or more");
  assert.equal(imagesText(1), "1 image");
  assert.equal(imagesText(2), "2 images");
  assert.equal(shownText(24, true), "24 images so far");
  assert.equal(shownText(1, false), "1 image");
  assert.equal(filterAnnouncement(cat, 1, false), "Showing 1 image labeled Cat, any confidence");
  assert.equal(filterAnnouncement(strict, 0, false), noImagesMessage(strict));
  assert.match(noImagesMessage(strict), /^No image labeled “Cat” at 90% confidence or more\. Choose a lower/);
  assert.match(noImagesMessage(cat), /^No image of yours is labeled “Cat” any more\./);
});

test("a search that matches nothing says what to do, with or without labels", () => {
  assert.match(noMatchMessage(" dog ", COUNTS), /^No label of yours matches “dog”\. Try a broader word/);
  assert.match(noMatchMessage("dog", []), /^No labels yet, so nothing matches “dog”: upload a photo first/);
});

test("entries whose record is gone or a tombstone are not shown", () => {
  const labeled = { Status: "LABELED", ImageName: "uploads/o/a.jpg" };
  const processing = { Status: "PROCESSING", ImageName: "uploads/o/b.jpg" }; // a relabel under way
  const tombstone = { Status: "DELETED", ImageName: "uploads/o/c.jpg" };
  assert.deepEqual(foundRecords([labeled, undefined, tombstone, processing, null]), [labeled, processing]);
});
