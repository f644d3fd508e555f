/**
 * Captures a view's input as a user expects it and turns it into protocol messages: pointer events
 * for mouse, pen and touch (several touches at once, pointer capture during drags), the wheel,
 * the keyboard while the view has focus, double clicks; no context menu, no page scrolling or text
 * selection from gestures aimed at the scene.
 * @module input-capture
 */

import { keyMessage, mouseMessage, touchMessage, wheelMessage } from "./protocol.js";
import { MAX_BUTTON, buttonBit, modifierMask, mouseAction, wheelLines } from "./input.js";

// [the DOM `buttons` bit, its `button` number], in bit order: left, right, middle, back, forward.
const BUTTON_BITS = Array.from({ length: MAX_BUTTON + 1 }, (_, button) => [buttonBit(button), button])
  .sort(([a], [b]) => a - b);

// Chromium aligns pointermove to animation frames, holding a move back up to 16 ms;
// pointerrawupdate comes as soon as the mouse or pen moves. Touch moves are not held back.
const RAW_UPDATES = typeof globalThis.onpointerrawupdate !== "undefined";

// Keys whose browser meaning wins even though the service hears them: Tab moves focus out of the
// view, and Ctrl/Meta combinations are the browser's shortcuts (reload, new tab, copy...).
const keepsBrowserMeaning = (event) => event.key === "Tab" || event.ctrlKey || event.metaKey;

/**
 * Listens to a view's DOM events and emits protocol messages.
 */
export class InputCapture {
  /**
   * @param {HTMLElement} view the focusable element around the picture
   * @param {object} hooks
   * @param {(event: MouseEvent) => {x: number, y: number, inside: boolean}} hooks.locate where an
   *   event falls, in render-area pixels, and whether on the picture
   * @param {(message: object, event: Event) => boolean} hooks.emit hands a message to the input
   *   listeners and sends it; false when a listener kept it from the service
   */
  constructor(view, { locate, emit }) {
    this._view = view;
    this._locate = locate;
    this._emit = emit;
    /** Mouse and pen pointers whose press went to the service: their drag goes on outside the picture. */
    this._mousePointers = new Map(); // pointer id -> the DOM `buttons` mask it holds
    /** Touch points whose start went to the service. */
    this._touchPointers = new Set();
    this._hovering = false;
    this._lastPointerType = "mouse";
    this._lastPoint = { x: 0, y: 0 };
    /**
     * Keys down, by physical key (`code`, since `key` may change between press and release when
     * Shift does), to release them when the view loses focus, which would otherwise leave them stuck.
     * @type {Map<string, string>}
     */
    this._heldKeys = new Map();
    this._handlers = {
      pointerdown: (e) => this._pointerDown(e),
      pointermove: (e) => {
        if (!(RAW_UPDATES && e.pointerType !== "touch")) this._pointerMove(e);
      },
      pointerup: (e) => this._pointerUp(e),
      pointercancel: (e) => this._pointerCancel(e),
      lostpointercapture: (e) => this._pointerCancel(e),
      pointerleave: (e) => this._pointerLeave(e),
      dblclick: (e) => this._doubleClick(e),
      // Stops text selection, image dragging and middle-button autoscroll (focus is set by hand).
      mousedown: (e) => e.preventDefault(),
      contextmenu: (e) => e.preventDefault(),
      wheel: (e) => this._wheel(e),
      keydown: (e) => this._key("down", e),
      keyup: (e) => this._key("up", e),
      blur: (e) => this._releaseKeys(e),
    };
    if (RAW_UPDATES) {
      this._handlers.pointerrawupdate = (e) => {
        if (e.pointerType !== "touch") this._pointerMove(e);
      };
    }
    for (const [type, handler] of Object.entries(this._handlers)) {
      // Not passive, so that wheel and key events can stop the page from scrolling.
      view.addEventListener(type, handler, { passive: false });
    }
  }

  /** Stops listening. */
  detach() {
    for (const [type, handler] of Object.entries(this._handlers)) this._view.removeEventListener(type, handler);
  }

  _point(event) {
    const point = this._locate(event);
    if (point.inside || this._mousePointers.size) this._lastPoint = point;
    return point;
  }

  _pointerDown(event) {
    this._lastPointerType = event.pointerType;
    // Focus as a native click gives it (mousedown's default is off): no scrolling, no keyboard focus ring.
    this._view.focus({ preventScroll: true, focusVisible: false });
    const point = this._point(event);
    // The bars around a fitted picture are not the scene: nothing starts there.
    if (!point.inside) return;
    if (event.pointerType === "touch") {
      this._touchPointers.add(event.pointerId);
      this._capture(event);
      this._emit(touchMessage("start", event.pointerId, point.x, point.y), event);
      return;
    }
    if (event.button > MAX_BUTTON) return;
    this._updateHover(point, event);
    this._mousePointers.set(event.pointerId, event.buttons);
    this._capture(event);
    this._emitMouse("down", point, event);
  }

  _pointerMove(event) {
    const point = this._point(event);
    if (event.pointerType === "touch") {
      if (this._touchPointers.has(event.pointerId)) this._emit(touchMessage("move", event.pointerId, point.x, point.y), event);
      return;
    }
    this._updateHover(point, event);
    if (event.button > MAX_BUTTON) return;
    if (this._mousePointers.has(event.pointerId)) this._mousePointers.set(event.pointerId, event.buttons);
    if (point.inside || this._mousePointers.has(event.pointerId)) {
      this._emitMouse(mouseAction("pointermove", event.button, event.buttons), point, event);
    }
  }

  _pointerUp(event) {
    const point = this._point(event);
    if (event.pointerType === "touch") {
      if (this._touchPointers.delete(event.pointerId)) this._emit(touchMessage("end", event.pointerId, point.x, point.y), event);
      return;
    }
    if (!this._mousePointers.delete(event.pointerId)) return;
    this._emitMouse("up", point, event);
    this._updateHover(point, event);
  }

  // A cancelled touch is a `cancel`; a cancelled pen or mouse press (the browser took the pointer
  // over, or the capture was lost) ends as a release of every button it held, so the scene does
  // not stay in a drag.
  _pointerCancel(event) {
    const point = this._lastPoint;
    if (this._touchPointers.delete(event.pointerId)) {
      this._emit(touchMessage("cancel", event.pointerId, point.x, point.y), event);
      return;
    }
    let held = this._mousePointers.get(event.pointerId);
    if (held === undefined) return;
    this._mousePointers.delete(event.pointerId);
    const mods = modifierMask(event);
    const released = BUTTON_BITS.filter(([bit]) => held & bit);
    if (!released.length) released.push([1, 0]); // nothing known held: release the primary button
    for (const [bit, button] of released) {
      held &= ~bit;
      this._emit(mouseMessage("up", point.x, point.y, button, held, mods), event);
    }
  }

  _pointerLeave(event) {
    if (event.pointerType !== "touch") this._updateHover({ ...this._lastPoint, inside: false }, event);
  }

  _doubleClick(event) {
    // A double tap is the service's touch gesture recognizers' business, not a double click.
    if (this._lastPointerType === "touch") return;
    const point = this._point(event);
    if (point.inside && event.button <= MAX_BUTTON) this._emitMouse("dblclick", point, event);
  }

  _wheel(event) {
    const point = this._point(event);
    if (!point.inside) return;
    event.preventDefault();
    const delta = wheelLines(event.deltaY, event.deltaMode, this._view.clientHeight);
    if (delta !== 0) this._emit(wheelMessage(point.x, point.y, delta, modifierMask(event)), event);
  }

  _key(action, event) {
    // Keys typed into an input method editor are its own until it commits them.
    if (event.isComposing || !event.key || event.key === "Process") return;
    // A release names the key its press named ("a", not "A" if Shift went down in between).
    const key = action === "up" ? this._heldKeys.get(event.code) ?? event.key : event.key;
    if (action === "down") this._heldKeys.set(event.code, event.key);
    else this._heldKeys.delete(event.code);
    const { x, y } = this._lastPoint;
    const sent = this._emit(keyMessage(action, x, y, key, modifierMask(event)), event);
    if (sent && !keepsBrowserMeaning(event)) event.preventDefault();
  }

  _releaseKeys(event) {
    const { x, y } = this._lastPoint;
    for (const key of this._heldKeys.values()) this._emit(keyMessage("up", x, y, key, 0), event);
    this._heldKeys.clear();
  }

  // Enter and leave follow the picture, not the view: the bars around it are outside. While a
  // button is held the pointer stays in the scene's hands, so leaving waits for the release.
  _updateHover(point, event) {
    if (point.inside === this._hovering || this._mousePointers.size) return;
    this._hovering = point.inside;
    this._emitMouse(point.inside ? "enter" : "leave", point, event);
  }

  _emitMouse(action, point, event) {
    const button = Math.max(0, event.button);
    this._emit(mouseMessage(action, point.x, point.y, button, event.buttons, modifierMask(event)), event);
  }

  _capture(event) {
    try {
      this._view.setPointerCapture(event.pointerId);
    } catch {
      // The pointer is already gone (released between the event and now): nothing to capture.
    }
  }
}
