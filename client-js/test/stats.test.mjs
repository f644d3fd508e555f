import { test } from "node:test";
import assert from "node:assert/strict";
import { RateMeter, formatStats, pictureScale } from "../src/stats.js";

test("a rate counts what happened within the last window only", () => {
  const meter = new RateMeter(1000);
  for (let t = 0; t < 1000; t += 100) meter.add(t);
  assert.equal(meter.rate(999), 10);
  assert.equal(meter.rate(1450), 5, "the samples at 0..400 have left the window");
  assert.equal(meter.rate(5000), 0);
});

test("amounts add up: bytes per second", () => {
  const meter = new RateMeter(500);
  meter.add(0, 1000);
  meter.add(250, 3000);
  assert.equal(meter.rate(400), 8000);
});

test("a meter keeps only the samples of its window", () => {
  const meter = new RateMeter(100);
  for (let t = 0; t < 100000; t += 1) meter.add(t);
  assert.equal(meter._samples.length, 100);
});

test("the overlay line shows every figure, and dashes for what is not measured yet", () => {
  const base = { fps: 29.96, bandwidth: 250000, inputLatencyMs: 41.4, decodeMs: 2.34, codec: "h264", framesReceived: 3, framesPainted: 3, framesDropped: 1, interactiveScale: 1 };
  assert.equal(formatStats(base), "30.0 fps h264 · scale 1.00 · input 41 ms · decode 2.3 ms · 2.00 Mbit/s · dropped 1");
  assert.equal(formatStats({ ...base, fps: 0, bandwidth: 0, inputLatencyMs: null, decodeMs: null, codec: null, framesDropped: 0 }), "0.0 fps · scale 1.00 · input – · decode – · 0.00 Mbit/s · dropped 0");
  assert.equal(formatStats({ ...base, interactiveScale: 0.7 }), "30.0 fps h264 · scale 0.70 · input 41 ms · decode 2.3 ms · 2.00 Mbit/s · dropped 1");
});

test("a picture's scale is its width over the render area's, at most 1", () => {
  assert.equal(pictureScale({ width: 640, areaWidth: 1280 }), 0.5);
  assert.equal(pictureScale({ width: 1088, areaWidth: 1280 }), 0.85);
  assert.equal(pictureScale({ width: 1280, areaWidth: 1280 }), 1);
  assert.equal(pictureScale({ width: 1282, areaWidth: 1281 }), 1, "a padded video picture is not above 1");
  assert.equal(pictureScale({ width: 64, areaWidth: 0 }), 1, "no area size known yet");
});
