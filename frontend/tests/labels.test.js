import assert from "node:assert/strict";
import { test } from "node:test";

import { boxRect, instanceBoxes, sortByConfidence } from "../src/lib/labels.js";

test("labels sort by confidence, highest first", () => {
  const labels = [
    { Name: "b", Confidence: 20 },
    { Name: "a", Confidence: 90.5 },
    { Name: "c", Confidence: 55 },
  ];
  assert.deepEqual(sortByConfidence(labels).map((label) => label.Name), ["a", "c", "b"]);
  assert.deepEqual(labels.map((label) => label.Name), ["b", "a", "c"], "the input is left alone");
  assert.deepEqual(sortByConfidence(undefined), []);
});

test("a bounding box becomes percentages of the image", () => {
  assert.deepEqual(boxRect({ Left: 0.1, Top: 0.25, Width: 0.5, Height: 0.333333 }), {
    left: "10%",
    top: "25%",
    width: "50%",
    height: "33.333%",
  });
});

test("boxes are clipped to the image; outside or malformed ones are dropped", () => {
  assert.deepEqual(boxRect({ Left: -0.1, Top: 0.9, Width: 0.3, Height: 0.2 }), {
    left: "0%",
    top: "90%",
    width: "20%",
    height: "10%",
  });
  assert.equal(boxRect({ Left: 1.2, Top: 0, Width: 0.1, Height: 0.1 }), null);
  assert.equal(boxRect({ Left: 0.2, Top: 0.2, Width: 0, Height: 0.1 }), null);
  assert.equal(boxRect({ Left: 0.2, Top: 0.2, Width: "wide", Height: 0.1 }), null);
  assert.equal(boxRect(undefined), null);
});

test("every drawable instance of every label, most confident label first", () => {
  const labels = [
    {
      Name: "Cup",
      Confidence: 40,
      Instances: [{ BoundingBox: { Left: 0, Top: 0, Width: 0.5, Height: 0.5 }, Confidence: 39.95 }],
    },
    { Name: "Scene", Confidence: 90 },
    {
      Name: "Dog",
      Confidence: 80,
      Instances: [
        { BoundingBox: { Left: 0.5, Top: 0.5, Width: 0.25, Height: 0.25 }, Confidence: 80 },
        { BoundingBox: { Left: 2, Top: 2, Width: 0.1, Height: 0.1 }, Confidence: 12 },
      ],
    },
  ];
  assert.deepEqual(instanceBoxes(labels), [
    { name: "Dog", title: "Dog 80.0%", rect: { left: "50%", top: "50%", width: "25%", height: "25%" } },
    { name: "Cup", title: "Cup 40.0%", rect: { left: "0%", top: "0%", width: "50%", height: "50%" } },
  ]);
});
