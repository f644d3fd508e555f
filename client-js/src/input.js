/**
 * Pure rules for turning DOM input into protocol terms: wheel deltas in lines, modifier masks,
 * and which mouse action a pointer event stands for. No DOM objects are needed: each function
 * reads only plain fields, so Node can test them.
 * @module input
 */

/**
 * CSS pixels per wheel line. Chromium, Edge and Safari report one notch of a wheel as 100 pixels
 * and Firefox as 3 lines; 100/3 pixels a line makes a notch 3 lines everywhere.
 */
export const PIXELS_PER_LINE = 100 / 3;

/** `WheelEvent.deltaMode` values. */
export const DeltaMode = Object.freeze({ PIXEL: 0, LINE: 1, PAGE: 2 });

/**
 * A wheel event's vertical delta in lines, positive when the wheel turns towards the user.
 * @param {number} deltaY `WheelEvent.deltaY`
 * @param {number} deltaMode `WheelEvent.deltaMode`
 * @param {number} pageHeight the height of a "page" in CSS pixels (the view's), for page mode
 * @returns {number}
 */
export function wheelLines(deltaY, deltaMode, pageHeight) {
  switch (deltaMode) {
    case DeltaMode.LINE:
      return deltaY;
    case DeltaMode.PAGE:
      return (deltaY * pageHeight) / PIXELS_PER_LINE;
    default:
      return deltaY / PIXELS_PER_LINE;
  }
}

/**
 * The protocol's modifier mask of a DOM mouse, wheel or keyboard event: 1 Shift, 2 Ctrl, 4 Alt, 8 Meta.
 * @param {{shiftKey: boolean, ctrlKey: boolean, altKey: boolean, metaKey: boolean}} event
 * @returns {number}
 */
export function modifierMask(event) {
  return (event.shiftKey ? 1 : 0) | (event.ctrlKey ? 2 : 0) | (event.altKey ? 4 : 0) | (event.metaKey ? 8 : 0);
}

/** The highest `MouseEvent.button` number sent (left, middle, right, back, forward). */
export const MAX_BUTTON = 4;

// MouseEvent.button numbers the middle button 1 and the right 2; MouseEvent.buttons swaps them.
const BUTTON_BITS = [1, 4, 2, 8, 16];

/**
 * The `MouseEvent.buttons` bit of a `MouseEvent.button` number (0 for buttons beyond 4).
 * @param {number} button
 * @returns {number}
 */
export function buttonBit(button) {
  return BUTTON_BITS[button] ?? 0;
}

/**
 * The mouse action a pointer event stands for.
 *
 * The Pointer Events spec fires `pointerdown` only for the first button pressed and `pointerup`
 * only for the last one released; pressing or releasing another button while one is held
 * arrives as a `pointermove` whose `button` names it. Those become `down` and `up` here, so
 * the service sees every button change.
 * @param {string} type "pointerdown", "pointerup" or "pointermove"
 * @param {number} button `PointerEvent.button` (-1 when no button changed)
 * @param {number} buttons `PointerEvent.buttons` after the event
 * @returns {"down"|"up"|"move"}
 */
export function mouseAction(type, button, buttons) {
  if (type === "pointerdown") return "down";
  if (type === "pointerup") return "up";
  if (button < 0) return "move";
  return buttons & buttonBit(button) ? "down" : "up";
}
