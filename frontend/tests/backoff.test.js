import assert from "node:assert/strict";
import { test } from "node:test";

import { POLL, pollDelay } from "../src/lib/backoff.js";

test("polls start quick and back off to a ceiling", () => {
  const delays = Array.from({ length: 10 }, (_, attempt) => pollDelay(attempt));
  assert.deepEqual(delays.slice(0, 4), [400, 600, 900, 1350]);
  assert.ok(delays.every((delay, i) => i === 0 || delay >= delays[i - 1]), "never shorter than before");
  assert.equal(delays.at(-1), POLL.maxMs);
});

test("the schedule is configurable", () => {
  assert.equal(pollDelay(3, { firstMs: 100, factor: 2, maxMs: 500 }), 500);
  assert.equal(pollDelay(2, { firstMs: 100, factor: 2, maxMs: 500 }), 400);
});
