import { test } from "node:test";
import assert from "node:assert/strict";
import { InputLatency, MAX_SEQ } from "../src/latency.js";

test("inputs are numbered from 1, and a frame showing one reports the time since it was sent", () => {
  const latency = new InputLatency();
  assert.equal(latency.next(1000), 1);
  assert.equal(latency.next(1010), 2);
  assert.equal(latency.resolve(2, 1045), 35);
});

test("a seq is measured once: later frames that show the same input report nothing", () => {
  const latency = new InputLatency();
  const seq = latency.next(0);
  assert.equal(latency.resolve(seq, 20), 20);
  assert.equal(latency.resolve(seq, 40), null);
  assert.equal(latency.resolve(0, 40), null, "0 means no input");
});

test("resolving a seq forgets it and every older input, which the frame also shows", () => {
  const latency = new InputLatency();
  for (let t = 0; t < 5; t += 1) latency.next(t);
  latency.resolve(3, 10);
  assert.equal(latency.size, 2);
  assert.equal(latency.resolve(1, 10), null);
  assert.equal(latency.resolve(5, 10), 6);
  assert.equal(latency.size, 0);
});

test("the map of send times stays bounded when frames never name the inputs", () => {
  const latency = new InputLatency(64);
  for (let t = 0; t < 10000; t += 1) latency.next(t);
  assert.equal(latency.size, 64);
  assert.equal(latency.resolve(1, 10000), null, "the oldest were forgotten");
  assert.equal(latency.resolve(10000, 10001), 2, "the newest are kept");
});

test("the numbering wraps from 2^32-1 to 1, and measuring still works across the wrap", () => {
  const latency = new InputLatency(256, MAX_SEQ - 1);
  assert.equal(latency.next(0), MAX_SEQ);
  assert.equal(latency.next(1), 1);
  assert.equal(latency.next(2), 2);
  assert.equal(latency.resolve(1, 11), 10);
  assert.equal(latency.size, 1, "the seq before the wrap was older and went with it");
});
