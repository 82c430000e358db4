import assert from "node:assert/strict";
import { test } from "node:test";

import { ThumbnailStore } from "../src/lib/thumbnails.js";

/** A Storage with a quota in characters, like localStorage's. */
class MemoryStorage {
  constructor(quota = Number.POSITIVE_INFINITY) {
    this.items = new Map();
    this.quota = quota;
  }
  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  setItem(key, value) {
    const used = [...this.items].reduce((sum, [k, v]) => sum + (k === key ? 0 : k.length + v.length), 0);
    if (used + key.length + value.length > this.quota) {
      throw new Error("QuotaExceededError");
    }
    this.items.set(key, value);
  }
  removeItem(key) {
    this.items.delete(key);
  }
}

test("previews are kept per key and survive a new store (a reload)", () => {
  const storage = new MemoryStorage();
  new ThumbnailStore(storage).put("uploads/me/a.jpg", "data:a");
  assert.equal(new ThumbnailStore(storage).get("uploads/me/a.jpg"), "data:a");
  assert.equal(new ThumbnailStore(storage).get("uploads/me/b.jpg"), null);
});

test("the oldest previews go first past the limit", () => {
  const store = new ThumbnailStore(new MemoryStorage(), 2);
  store.put("a", "1");
  store.put("b", "2");
  store.put("a", "1 again");
  store.put("c", "3");
  assert.deepEqual(store.keys(), ["a", "c"]);
  assert.equal(store.get("b"), null);
  assert.equal(store.get("a"), "1 again");
});

test("over quota, the oldest go until the new one fits; one that never fits is dropped", () => {
  const storage = new MemoryStorage(150);
  const store = new ThumbnailStore(storage);
  store.put("a", "x".repeat(40));
  store.put("b", "x".repeat(40));
  assert.equal(store.put("c", "x".repeat(40)), true);
  assert.deepEqual(store.keys(), ["b", "c"]);
  assert.equal(store.get("a"), null);
  assert.equal(store.put("huge", "x".repeat(500)), false);
  assert.equal(store.get("huge"), null);
});

test("a corrupt index is treated as empty", () => {
  const storage = new MemoryStorage();
  storage.setItem("labeler:thumbnails", "{not json");
  assert.deepEqual(new ThumbnailStore(storage).keys(), []);
});

test("the preview of a deleted upload is forgotten, the others stay", () => {
  const storage = new MemoryStorage();
  const store = new ThumbnailStore(storage);
  store.put("uploads/me/a.jpg", "data:a");
  store.put("uploads/me/b.jpg", "data:b");
  store.remove("uploads/me/a.jpg");
  assert.equal(store.get("uploads/me/a.jpg"), null);
  assert.equal(store.get("uploads/me/b.jpg"), "data:b");
  assert.deepEqual(store.keys(), ["uploads/me/b.jpg"]);
});
