import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { layoutTimeline } from "../src/lib/timeline.js";

// Answers of `labeler local`'s /api/executions/<name>, recorded (see fixtures/).
const fixture = (name) =>
  JSON.parse(readFileSync(new URL(`fixtures/${name}.execution.json`, import.meta.url), "utf8"));

const summary = (timeline) => timeline.rows.map(({ name, retries, outcome }) => [name, retries, outcome]);

test("a label call that was throttled once, retried, then labeled", () => {
  const timeline = layoutTimeline(fixture("labeled-after-a-retry"));
  assert.deepEqual(summary(timeline), [
    ["Validate", 0, "succeeded"],
    ["IsDuplicate", 0, "succeeded"],
    ["Label", 1, "succeeded"],
    ["Store", 0, "succeeded"],
  ]);
  assert.deepEqual(timeline.rows[2].errors, [
    { error: "LabelServiceThrottled", message: "injected fault: call 1 of 1 failing calls" },
  ]);
  assert.equal(timeline.durationMs, 4407);
  for (const row of timeline.rows) {
    assert.ok(row.offset >= 0 && row.width >= 0 && row.offset + row.width <= 100.0001, row.name);
    assert.ok(row.durationMs >= 0);
  }
});

test("a rejected upload: the caught task failed, the failure branch ran, the Fail state ended it", () => {
  const timeline = layoutTimeline(fixture("rejected"));
  assert.deepEqual(summary(timeline), [
    ["Validate", 0, "failed"],
    ["ValidateFailed", 0, "succeeded"],
    ["RecordFailure", 0, "succeeded"],
    ["ShouldNotify", 0, "succeeded"],
    ["NotifyFailure", 0, "succeeded"],
    ["Failed", 0, "failed"],
  ]);
  assert.deepEqual(timeline.rows[0].errors, [
    {
      error: "ImageRejected",
      message: "UNSUPPORTED_FORMAT: The file is not an image; only JPEG and PNG images can be labeled.",
    },
  ]);
  const failed = timeline.rows.at(-1);
  assert.ok(Math.abs(failed.offset + failed.width - 100) < 1e-9, "the Fail state lasts until the end");
});

test("a running execution: the open state is running, measured up to now", () => {
  const detail = fixture("labeled-after-a-retry");
  const label = detail.states[2];
  const running = {
    execution: { ...detail.execution, stopped: null },
    states: [...detail.states.slice(0, 2), { ...label, exited: null }],
  };
  const now = new Date(label.entered).getTime() + 500;
  const timeline = layoutTimeline(running, now);
  assert.equal(timeline.durationMs, null);
  const last = timeline.rows.at(-1);
  assert.deepEqual([last.name, last.outcome, last.durationMs], ["Label", "running", null]);
  assert.ok(Math.abs(last.offset + last.width - 100) < 1e-9, "up to now");
});
