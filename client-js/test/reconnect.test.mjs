import { test } from "node:test";
import assert from "node:assert/strict";
import { reconnectDelay } from "../src/reconnect.js";

const noJitter = () => 0;

test("REFUSED, KICKED and DISPOSED are never retried", () => {
  for (const reason of ["REFUSED", "KICKED", "DISPOSED"]) {
    assert.equal(reconnectDelay(reason, 0, {}, noJitter), null, reason);
  }
});

test("a network failure is retried with a delay that doubles up to a ceiling", () => {
  const delays = [0, 1, 2, 3, 4, 5, 6, 7].map((attempt) => reconnectDelay("NETWORKFAILURE", attempt, { baseMs: 500, maxMs: 30000 }, noJitter));
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

test("the defaults are 500 ms doubling to 30 s, without an attempt limit", () => {
  assert.equal(reconnectDelay("NETWORKFAILURE", 0, undefined, noJitter), 500);
  assert.equal(reconnectDelay("NETWORKFAILURE", 1000, undefined, noJitter), 30000);
});

test("jitter shortens a delay by up to half, never lengthens it", () => {
  assert.equal(reconnectDelay("NETWORKFAILURE", 2, {}, () => 0.999999) > 1000, true);
  assert.equal(reconnectDelay("NETWORKFAILURE", 2, {}, () => 0.5), 1500);
  assert.equal(reconnectDelay("NETWORKFAILURE", 2, {}, () => 0), 2000);
});

test("attempts stop after maxAttempts", () => {
  assert.equal(reconnectDelay("NETWORKFAILURE", 2, { maxAttempts: 3 }, noJitter), 2000);
  assert.equal(reconnectDelay("NETWORKFAILURE", 3, { maxAttempts: 3 }, noJitter), null);
});
