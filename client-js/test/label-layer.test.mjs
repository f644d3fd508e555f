import { test } from "node:test";
import assert from "node:assert/strict";

import { labelCorner } from "../src/label-layer.js";
import { projectionMatrix, viewMatrix } from "../src/view-math.js";

const IDENTITY = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
// A perspective camera at z = 5 looking down -z, 90 degrees high.
const CAMERA = { position: [0, 0, 5], orientation: [0, 0, 0, 1], focal_distance: 5, height: Math.PI / 2, orthographic: false, model: IDENTITY };

function label(fields) {
  return { kind: "label", model: IDENTITY, position: [0, 0, 0], offset: [4, 4], screen_position: null, size: [40, 20], clip: [], ...fields };
}

function corner(record, width = 200, height = 100) {
  const view = viewMatrix(CAMERA);
  return labelCorner(record, view, projectionMatrix(CAMERA, width / height, 1, 10), width, height);
}

test("a label's bottom-left corner sits at its anchor's projection moved by its offset, y up", () => {
  // The anchor projects to the centre (100, 50); the picture is 20 high.
  assert.deepEqual(corner(label({})), [104, 26]);
  assert.deepEqual(corner(label({ offset: [-10, -5] })), [90, 35]);
});

test("the anchor goes through the record's model", () => {
  const model = [...IDENTITY];
  model[13] = 5 * Math.tan(Math.PI / 4) / 2; // up by a quarter of the view's height at z = 0
  assert.deepEqual(corner(label({ model, offset: [0, 0] })), [100, 5]);
});

test("a clip plane that cuts the anchor away, or an anchor behind the camera, hides the label", () => {
  assert.equal(corner(label({ clip: [[1, 0, 0, -0.5]] })), null);
  assert.deepEqual(corner(label({ clip: [[1, 0, 0, 0.5]] })), [104, 26]);
  assert.equal(corner(label({ position: [0, 0, 6] })), null);
});

test("a label fixed on the screen stays where it is put, whatever the camera", () => {
  assert.deepEqual(corner(label({ screen_position: [7.4, 9.6], position: [0, 0, 6] })), [7, 10]);
});
