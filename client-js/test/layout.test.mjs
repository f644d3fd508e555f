import { test } from "node:test";
import assert from "node:assert/strict";
import { DisplayMode, areaSizeFor, checkDisplayMode, computeLayout, containerToArea } from "../src/layout.js";

const rect = ({ left, top, width, height }) => ({ left, top, width, height });
const map = (mode, container, area, ratio, x, y) =>
  containerToArea(computeLayout(mode, container[0], container[1], area[0], area[1], ratio), x, y);

test("FIT letterboxes a wide picture, centred, whatever the pixel ratio", () => {
  for (const ratio of [1, 2]) {
    const layout = computeLayout(DisplayMode.FIT, 400, 300, 200, 100, ratio);
    assert.deepEqual(rect(layout), { left: 0, top: 50, width: 400, height: 200 }, `ratio ${ratio}`);
    assert.deepEqual(containerToArea(layout, 100, 150), { x: 50, y: 50, inside: true });
    assert.deepEqual(containerToArea(layout, 399, 249), { x: 199, y: 99, inside: true });
  }
});

test("FIT at pixel ratio 2 with a render area of twice the container's CSS size maps one CSS pixel to two", () => {
  const layout = computeLayout(DisplayMode.FIT, 400, 300, 800, 600, 2);
  assert.deepEqual(rect(layout), { left: 0, top: 0, width: 400, height: 300 });
  assert.deepEqual(containerToArea(layout, 100, 150), { x: 200, y: 300, inside: true });
  assert.deepEqual(containerToArea(layout, 100.75, 150.25), { x: 201, y: 300, inside: true });
});

test("FIT: points in the letterbox bars map outside the render area and say so", () => {
  assert.deepEqual(map(DisplayMode.FIT, [400, 300], [200, 100], 1, 100, 25), { x: 50, y: -13, inside: false });
  assert.deepEqual(map(DisplayMode.FIT, [400, 300], [200, 100], 2, 100, 280), { x: 50, y: 115, inside: false });
  // The edge of the picture belongs to the bar below it.
  assert.equal(map(DisplayMode.FIT, [400, 300], [200, 100], 1, 100, 250).inside, false);
  assert.equal(map(DisplayMode.FIT, [400, 300], [200, 100], 1, 100, 50).inside, true);
});

test("FIT pillarboxes a tall picture", () => {
  const layout = computeLayout(DisplayMode.FIT, 400, 300, 100, 150, 1);
  assert.deepEqual(rect(layout), { left: 100, top: 0, width: 200, height: 300 });
  assert.deepEqual(containerToArea(layout, 50, 150), { x: -25, y: 75, inside: false });
  assert.deepEqual(containerToArea(layout, 350, 150), { x: 125, y: 75, inside: false });
  assert.deepEqual(containerToArea(layout, 150, 150), { x: 25, y: 75, inside: true });
});

test("CROP shows one render-area pixel per device pixel, centred", () => {
  const one = computeLayout(DisplayMode.CROP, 400, 300, 200, 100, 1);
  assert.deepEqual(rect(one), { left: 100, top: 100, width: 200, height: 100 });
  assert.deepEqual(containerToArea(one, 150, 120), { x: 50, y: 20, inside: true });
  assert.deepEqual(containerToArea(one, 50, 50), { x: -50, y: -50, inside: false });

  const two = computeLayout(DisplayMode.CROP, 400, 300, 200, 100, 2);
  assert.deepEqual(rect(two), { left: 150, top: 125, width: 100, height: 50 });
  assert.deepEqual(containerToArea(two, 175, 150), { x: 50, y: 50, inside: true });
  assert.deepEqual(containerToArea(two, 140, 150), { x: -20, y: 50, inside: false });
});

test("CROP crops a render area larger than the container on all sides", () => {
  const layout = computeLayout(DisplayMode.CROP, 400, 300, 800, 600, 1);
  assert.deepEqual(rect(layout), { left: -200, top: -150, width: 800, height: 600 });
  assert.deepEqual(containerToArea(layout, 0, 0), { x: 200, y: 150, inside: true });
  const hidpi = computeLayout(DisplayMode.CROP, 400, 300, 1600, 1200, 2);
  assert.deepEqual(containerToArea(hidpi, 0, 0), { x: 400, y: 300, inside: true });
});

test("STRETCH fills the container, scaling each axis on its own", () => {
  for (const ratio of [1, 2]) {
    const layout = computeLayout(DisplayMode.STRETCH, 400, 300, 200, 100, ratio);
    assert.deepEqual(rect(layout), { left: 0, top: 0, width: 400, height: 300 });
    assert.deepEqual(containerToArea(layout, 100, 150), { x: 50, y: 50, inside: true });
    assert.deepEqual(containerToArea(layout, 0, 0), { x: 0, y: 0, inside: true });
    assert.deepEqual(containerToArea(layout, 400, 300), { x: 200, y: 100, inside: false });
  }
});

test("an unknown render area size fills the container and keeps the mapping finite", () => {
  const layout = computeLayout(DisplayMode.FIT, 400, 300, 0, 0, 1);
  assert.deepEqual(rect(layout), { left: 0, top: 0, width: 400, height: 300 });
  assert.deepEqual(containerToArea(layout, 10, 10), { x: 10, y: 10, inside: false });
});

test("the sharp render area size is the container's CSS size times the pixel ratio", () => {
  assert.deepEqual(areaSizeFor(400, 300, 1), { width: 400, height: 300 });
  assert.deepEqual(areaSizeFor(400, 300, 2), { width: 800, height: 600 });
  assert.deepEqual(areaSizeFor(333, 201, 1.5), { width: 500, height: 302 });
});

test("display modes are checked", () => {
  assert.equal(checkDisplayMode("CROP"), "CROP");
  assert.throws(() => checkDisplayMode("fit"), TypeError);
  assert.deepEqual(Object.keys(DisplayMode), ["FIT", "CROP", "STRETCH"]);
});
