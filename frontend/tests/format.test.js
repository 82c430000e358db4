import assert from "node:assert/strict";
import { test } from "node:test";

import { formatBytes, formatDuration, formatPercent, formatTime } from "../src/lib/format.js";

test("bytes", () => {
  assert.equal(formatBytes(0), "0 bytes");
  assert.equal(formatBytes(1), "1 byte");
  assert.equal(formatBytes(1536), "1.5 KB");
  assert.equal(formatBytes(20685), "20 KB");
  assert.equal(formatBytes(15 * 1024 * 1024), "15 MB");
  assert.equal(formatBytes(1.25 * 1024 ** 3), "1.3 GB");
});

test("durations", () => {
  assert.equal(formatDuration(0), "0 ms");
  assert.equal(formatDuration(849.6), "850 ms");
  assert.equal(formatDuration(2430), "2.4 s");
  assert.equal(formatDuration(12_600), "13 s");
  assert.equal(formatDuration(65_000), "1 min 5 s");
  assert.equal(formatDuration(120_000), "2 min");
  assert.equal(formatDuration(-1), "");
  assert.equal(formatDuration(Number.NaN), "");
});

test("confidence", () => {
  assert.equal(formatPercent(38.0409), "38.0%");
  assert.equal(formatPercent(100), "100.0%");
});

test("times are shown in the reader's locale; junk is not a time", () => {
  assert.match(formatTime("2026-11-26T19:47:05.159Z", "en-GB"), /2026/);
  assert.equal(formatTime("not a time"), "");
  assert.equal(formatTime(undefined), "");
});
