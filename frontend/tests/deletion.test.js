import assert from "node:assert/strict";
import { test } from "node:test";

import {
  IDLE,
  LINGERING_MESSAGE,
  collectPage,
  deleteConfirmed,
  deleteErrorMessage,
  deletionView,
  nextDeletion,
  visibleRecords,
} from "../src/lib/deletion.js";

const run = (events, from = IDLE) => events.reduce(nextDeletion, from);

test("a delete goes sending, confirming, then deleted once the record is gone or a tombstone", () => {
  const sending = run([{ type: "click" }]);
  assert.equal(sending.phase, "sending");
  const confirming = nextDeletion(sending, { type: "sent" });
  assert.equal(confirming.phase, "confirming");
  // The old record is still there: keep waiting.
  assert.equal(nextDeletion(confirming, { type: "record", record: { Status: "LABELED" } }), confirming);
  assert.equal(nextDeletion(confirming, { type: "record", record: { Status: "DELETED" } }).phase, "deleted");
  assert.equal(nextDeletion(confirming, { type: "record", record: undefined }).phase, "deleted");
});

test("clicks while a delete is on its way, or after it, change nothing", () => {
  for (const events of [[{ type: "click" }], [{ type: "click" }, { type: "sent" }]]) {
    const busy = run(events);
    assert.equal(nextDeletion(busy, { type: "click" }), busy, busy.phase);
  }
  const deleted = run([{ type: "click" }, { type: "sent" }, { type: "record", record: undefined }]);
  assert.equal(nextDeletion(deleted, { type: "click" }), deleted);
  // A record seen before DeleteObject answered says nothing about the delete.
  const sending = run([{ type: "click" }]);
  assert.equal(nextDeletion(sending, { type: "record", record: undefined }), sending);
});

test("a failed delete says why and can be tried again", () => {
  const denied = Object.assign(new Error("Access Denied"), {
    name: "AccessDenied",
    $metadata: { httpStatusCode: 403 },
  });
  const failed = run([{ type: "click" }, { type: "error", error: denied }]);
  assert.equal(failed.phase, "failed");
  assert.match(failed.message, /^Not deleted: access denied/);
  assert.match(failed.message, /Nothing was removed/);
  assert.equal(deletionView(failed, "cat.jpg").disabled, false);
  assert.equal(nextDeletion(failed, { type: "click" }).phase, "sending");
  assert.equal(nextDeletion(nextDeletion(failed, { type: "click" }), { type: "sent" }).message, "");
});

test("a cleanup that does not come in time leaves the card with a message and the button usable", () => {
  const lingering = run([{ type: "click" }, { type: "sent" }, { type: "timeout" }]);
  assert.deepEqual(lingering, { phase: "lingering", message: LINGERING_MESSAGE });
  assert.equal(deletionView(lingering, "x.jpg").disabled, false);
  assert.equal(nextDeletion(lingering, { type: "click" }).phase, "sending");
  assert.equal(nextDeletion(IDLE, { type: "timeout" }), IDLE);
});

test("errors read as sentences: denied, network, anything else", () => {
  assert.match(deleteErrorMessage({ $metadata: { httpStatusCode: 403 } }), /access denied/);
  assert.match(deleteErrorMessage(new TypeError("Failed to fetch")), /could not be reached/);
  assert.match(deleteErrorMessage(new Error("NetworkError when attempting to fetch")), /could not be reached/);
  assert.equal(
    deleteErrorMessage(Object.assign(new Error("Slow down"), { name: "SlowDown" })),
    "Not deleted: Slow down. Nothing was removed; try again.",
  );
  assert.match(deleteErrorMessage(undefined), /unknown error/);
});

test("the view: the button names the file, is disabled and says so while busy", () => {
  assert.deepEqual(deletionView(IDLE, "cat.jpg"), {
    busy: false,
    disabled: false,
    buttonText: "Delete",
    buttonLabel: "Delete cat.jpg",
    status: "",
    message: "",
  });
  const busy = deletionView(run([{ type: "click" }]), "cat.jpg");
  assert.deepEqual([busy.busy, busy.disabled, busy.status, busy.buttonLabel], [true, true, "Deleting…", "Delete cat.jpg"]);
});

test("tombstones are never listed, and count as a completed delete", () => {
  const records = [{ ImageName: "a", Status: "LABELED" }, { ImageName: "b", Status: "DELETED" }, { ImageName: "c" }];
  assert.deepEqual(visibleRecords(records).map((r) => r.ImageName), ["a", "c"]);
  assert.equal(deleteConfirmed({ Status: "DELETED" }), true);
  assert.equal(deleteConfirmed({ Status: "PROCESSING" }), false);
});

/** A fake filtered Query over `items`: `Limit` counts items read before the filter, as DynamoDB does. */
function fakeQuery(items) {
  const calls = [];
  const query = async ({ limit, cursor }) => {
    calls.push({ limit, cursor });
    const start = cursor ?? 0;
    const read = items.slice(start, start + limit);
    const end = start + read.length;
    return { records: read.filter((item) => item.Status !== "DELETED"), cursor: end < items.length ? end : undefined };
  };
  return { query, calls };
}

const item = (n, status = "LABELED") => ({ ImageName: `k${n}`, Status: status });

test("a page of My uploads is filled up past the tombstones, and its cursor continues it", async () => {
  const items = [item(1), item(2, "DELETED"), item(3, "DELETED"), item(4), item(5), item(6)];
  const { query, calls } = fakeQuery(items);
  const first = await collectPage(query, { limit: 3 });
  assert.deepEqual(first.records.map((r) => r.ImageName), ["k1", "k4", "k5"]);
  assert.deepEqual(calls, [{ limit: 3, cursor: undefined }, { limit: 2, cursor: 3 }]);
  const second = await collectPage(query, { limit: 3, cursor: first.cursor });
  assert.deepEqual(second.records.map((r) => r.ImageName), ["k6"]);
  assert.equal(second.cursor, undefined);
});

test("a page never asks more than a few times, even through many tombstones", async () => {
  const items = [...Array.from({ length: 40 }, (_, n) => item(n, "DELETED")), item(99)];
  const { query, calls } = fakeQuery(items);
  const page = await collectPage(query, { limit: 5 });
  assert.deepEqual(page.records, []);
  assert.equal(calls.length, 4);
  assert.notEqual(page.cursor, undefined, "the rest stays reachable with Show older uploads");
});

test("a tombstone that slips past the Query's filter is still not listed", async () => {
  const page = await collectPage(async () => ({ records: [item(1, "DELETED"), item(2)], cursor: undefined }), {
    limit: 2,
  });
  assert.deepEqual(page.records.map((r) => r.ImageName), ["k2"]);
});
