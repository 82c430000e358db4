import assert from "node:assert/strict";
import { test } from "node:test";

import { checkFile as checkWithLimit, objectKey, randomName } from "../src/lib/checks.js";

const MAX_BYTES = 15 * 1024 * 1024;
const checkFile = (file) => checkWithLimit(file, MAX_BYTES);

test("JPEG and PNG are accepted, by type or (with no type) by name", () => {
  assert.deepEqual(checkFile({ name: "a.jpg", type: "image/jpeg", size: 10 }), {
    ok: true,
    extension: "jpg",
    contentType: "image/jpeg",
  });
  assert.equal(checkFile({ name: "a.PNG", type: "image/png", size: 10 }).extension, "png");
  assert.equal(checkFile({ name: "scan.JPEG", type: "", size: 10 }).extension, "jpg");
  // The browser's type wins over a misleading name; the pipeline reads the bytes anyway.
  assert.equal(checkFile({ name: "photo.gif", type: "image/png", size: 10 }).extension, "png");
});

test("other types are refused with what they are", () => {
  assert.deepEqual(checkFile({ name: "a.gif", type: "image/gif", size: 10 }), {
    ok: false,
    reason: "Only JPEG and PNG images can be labeled (this is image/gif).",
  });
  assert.match(checkFile({ name: "a.heic", type: "", size: 10 }).reason, /this is \.heic/);
  assert.match(checkFile({ name: "README", type: "", size: 10 }).reason, /no file type/);
});

test("empty and oversized files are refused", () => {
  assert.deepEqual(checkFile({ name: "a.jpg", type: "image/jpeg", size: 0 }), {
    ok: false,
    reason: "The file is empty.",
  });
  assert.equal(checkFile({ name: "a.jpg", type: "image/jpeg", size: MAX_BYTES }).ok, true);
  assert.deepEqual(checkFile({ name: "a.jpg", type: "image/jpeg", size: MAX_BYTES + 1 }), {
    ok: false,
    reason: "The file is 15 MB; the limit is 15 MB.",
  });
  assert.equal(
    checkFile({ name: "a.png", type: "image/png", size: 16.2 * 1024 * 1024 }).reason,
    "The file is 16 MB; the limit is 15 MB.",
  );
});

test("object keys live under the identity's own prefix with a generated name", () => {
  const id = "0f".repeat(16);
  assert.equal(objectKey("uploads/", "us-east-1:abc", id, "jpg"), `uploads/us-east-1:abc/${id}.jpg`);
  const name = randomName((bytes) => bytes.fill(171));
  assert.equal(name, "ab".repeat(16));
  assert.match(randomName(), /^[0-9a-f]{32}$/);
  assert.notEqual(randomName(), randomName());
});
