import assert from "node:assert/strict";
import { test } from "node:test";

import { REJECTION_TEXT, announcement, cardState } from "../src/lib/status.js";

const uploaded = { phase: "uploaded" };

test("an uploaded image is validating until its record says otherwise", () => {
  assert.equal(cardState(undefined, uploaded).phase, "validating");
  assert.equal(cardState(undefined, uploaded).terminal, false);
});

test("a PROCESSING record follows its stage", () => {
  assert.equal(cardState({ Status: "PROCESSING", Stage: "VALIDATING" }, uploaded).phase, "validating");
  assert.equal(cardState({ Status: "PROCESSING", Stage: "LABELING" }, uploaded).phase, "labeling");
  assert.equal(cardState({ Status: "SOMETHING_NEWER" }, uploaded).phase, "validating");
});

test("terminal records end the card with their reason", () => {
  assert.deepEqual(cardState({ Status: "LABELED" }, uploaded), {
    phase: "labeled",
    label: "Labeled",
    detail: "",
    terminal: true,
  });
  const record = { Status: "REJECTED", ErrorCode: "TOO_SMALL", Reason: "80 px at least." };
  const rejected = cardState(record, uploaded);
  assert.deepEqual(
    [rejected.phase, rejected.detail, rejected.terminal],
    ["rejected", "80 px at least.", true],
  );
  const failed = cardState({ Status: "FAILED", ErrorCode: "LabelServiceThrottled" }, uploaded);
  assert.deepEqual([failed.phase, failed.detail], ["failed", "LabelServiceThrottled"]);
});

test("the browser's own phases come before any record", () => {
  const uploading = cardState(undefined, { phase: "uploading", progress: 0.424 });
  assert.deepEqual(
    [uploading.label, uploading.progress, uploading.terminal],
    ["Uploading 42%", 0.424, false],
  );
  const refused = cardState(undefined, { phase: "refused", reason: "The file is empty." });
  assert.deepEqual(
    [refused.label, refused.detail, refused.terminal],
    ["Not uploaded", "The file is empty.", true],
  );
  assert.equal(cardState(undefined, { phase: "upload-failed", reason: "HTTP 403" }).label, "Upload failed");
});

test("a card that outlives the pipeline's timeout stops as stale", () => {
  const stale = cardState(undefined, { phase: "stale" });
  assert.deepEqual([stale.phase, stale.label, stale.terminal], ["stale", "No result yet", true]);
});

test("announcements name the file, the status and what matters", () => {
  assert.equal(announcement("cat.jpg", cardState({ Status: "LABELED" }, uploaded), "Tiger Cat 38.0%"),
    "cat.jpg: labeled, Tiger Cat 38.0%");
  assert.equal(announcement("x.jpg", cardState({ Status: "REJECTED", Reason: "Not an image." }, uploaded)),
    "x.jpg: rejected, Not an image.");
});

test("the quota and unreadable-object rejections show their reason as is, like any other", () => {
  const quota = {
    Status: "REJECTED",
    ErrorCode: "QUOTA_EXCEEDED",
    Reason: "This browser's daily limit of 50 images is used up; it resets at 00:00 UTC.",
  };
  assert.deepEqual(
    [cardState(quota, uploaded).phase, cardState(quota, uploaded).detail, cardState(quota, uploaded).terminal],
    ["rejected", quota.Reason, true],
  );
  const unreadable = { Status: "REJECTED", ErrorCode: "OBJECT_NOT_READABLE", Reason: "The object is archived." };
  assert.equal(cardState(unreadable, uploaded).detail, "The object is archived.");
  assert.equal(
    announcement("a.jpg", cardState(quota, uploaded)),
    `a.jpg: rejected, ${quota.Reason}`,
  );
});

test("a rejection without a reason falls back to a sentence for its code, then the code", () => {
  assert.equal(cardState({ Status: "REJECTED", ErrorCode: "QUOTA_EXCEEDED" }, uploaded).detail, REJECTION_TEXT.QUOTA_EXCEEDED);
  assert.equal(
    cardState({ Status: "REJECTED", ErrorCode: "OBJECT_NOT_READABLE", Reason: "" }, uploaded).detail,
    REJECTION_TEXT.OBJECT_NOT_READABLE,
  );
  assert.equal(cardState({ Status: "REJECTED", ErrorCode: "SOMETHING_NEW" }, uploaded).detail, "SOMETHING_NEW");
});

test("a DELETED tombstone ends the card as deleted", () => {
  const deleted = cardState({ Status: "DELETED", ExpiresAt: 1 }, uploaded);
  assert.deepEqual([deleted.phase, deleted.label, deleted.terminal], ["deleted", "Deleted", true]);
});
