import assert from "node:assert/strict";
import { test } from "node:test";

import { REFRESH_MARGIN_MS, shareCredentials } from "../src/lib/credentials.js";

function counting(expiration) {
  const provider = async () => {
    provider.calls += 1;
    return { identityId: "us-east-1:guest", accessKeyId: `key-${provider.calls}`, expiration };
  };
  provider.calls = 0;
  return provider;
}

test("concurrent callers share one Cognito round trip", async () => {
  const provider = counting(new Date(Date.now() + 3_600_000));
  const shared = shareCredentials(provider);
  const [a, b] = await Promise.all([shared(), shared()]);
  assert.equal(provider.calls, 1);
  assert.equal(a, b);
  await shared();
  assert.equal(provider.calls, 1);
});

test("credentials are refreshed shortly before they expire", async () => {
  const expiration = new Date(1_000_000_000);
  const provider = counting(expiration);
  let now = expiration.getTime() - REFRESH_MARGIN_MS - 1;
  const shared = shareCredentials(provider, () => now);
  assert.equal((await shared()).accessKeyId, "key-1");
  now += 2;
  const [a, b] = await Promise.all([shared(), shared()]);
  assert.equal(a.accessKeyId, "key-2");
  assert.equal(b.accessKeyId, "key-2");
  assert.equal(provider.calls, 2);
});

test("a failure is not cached", async () => {
  let calls = 0;
  const shared = shareCredentials(async () => {
    calls += 1;
    if (calls === 1) {
      throw new Error("Cognito is down");
    }
    return { identityId: "id" };
  });
  await assert.rejects(shared(), /Cognito is down/);
  assert.equal((await shared()).identityId, "id");
});
