import { test } from "node:test";
import assert from "node:assert/strict";
import { DeltaMode, PIXELS_PER_LINE, buttonBit, modifierMask, mouseAction, wheelLines } from "../src/input.js";

test("one wheel notch is 3 lines whether the browser reports pixels (Chromium) or lines (Firefox)", () => {
  assert.equal(wheelLines(100, DeltaMode.PIXEL, 600), 3);
  assert.equal(wheelLines(3, DeltaMode.LINE, 600), 3);
  assert.equal(wheelLines(-100, DeltaMode.PIXEL, 600), -3, "away from the user stays negative");
});

test("pixel deltas of a touchpad become fractions of a line", () => {
  assert.equal(wheelLines(PIXELS_PER_LINE / 2, DeltaMode.PIXEL, 600), 0.5);
  assert.equal(wheelLines(0, DeltaMode.PIXEL, 600), 0);
});

test("page deltas are pages of the view's height, in lines", () => {
  assert.equal(wheelLines(1, DeltaMode.PAGE, 100), 3);
  assert.equal(wheelLines(-2, DeltaMode.PAGE, 600), -36);
});

test("modifier masks: 1 Shift, 2 Ctrl, 4 Alt, 8 Meta", () => {
  const none = { shiftKey: false, ctrlKey: false, altKey: false, metaKey: false };
  assert.equal(modifierMask(none), 0);
  assert.equal(modifierMask({ ...none, shiftKey: true }), 1);
  assert.equal(modifierMask({ ...none, ctrlKey: true }), 2);
  assert.equal(modifierMask({ ...none, altKey: true }), 4);
  assert.equal(modifierMask({ ...none, metaKey: true }), 8);
  assert.equal(modifierMask({ shiftKey: true, ctrlKey: true, altKey: true, metaKey: true }), 15);
});

test("button numbers map to the DOM's buttons bits, middle and right swapped", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(buttonBit), [1, 4, 2, 8, 16, 0]);
});

test("a second button pressed or released during a drag is a down or up, not a move", () => {
  assert.equal(mouseAction("pointerdown", 0, 1), "down");
  assert.equal(mouseAction("pointerup", 0, 0), "up");
  assert.equal(mouseAction("pointermove", -1, 1), "move");
  // Left held, right pressed: a pointermove with button 2 and both bits set.
  assert.equal(mouseAction("pointermove", 2, 3), "down");
  // Then right released while left stays held.
  assert.equal(mouseAction("pointermove", 2, 1), "up");
  // Middle (button 1, bit 4) pressed during a left drag.
  assert.equal(mouseAction("pointermove", 1, 5), "down");
});
