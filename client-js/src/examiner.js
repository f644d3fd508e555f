/**
 * The service's examiner navigation (`remoteviz/rendering/examiner.py`) for a page that has no
 * service behind it (the single-file export): the same drags, wheel and Home key move a camera
 * record (`{position, orientation, focal_distance, height, orthographic}`) as they move the
 * service's camera, from the same protocol messages `input-capture.js` makes. No DOM.
 * @module examiner
 */

import { halfExtents } from "./view-math.js";

/** Zoom factor for one wheel line (positive deltas zoom out), as the service's. */
export const WHEEL_ZOOM_PER_LINE = 1.1;

const LEFT = 1;
const RIGHT = 2;
const MIDDLE = 4;
const SHIFT = 1;
const CTRL = 2;
const BIT_OF_BUTTON = [LEFT, MIDDLE, RIGHT, 0, 0]; // DOM button number -> DOM buttons bit

function multiplyQuaternions([x1, y1, z1, w1], [x2, y2, z2, w2]) {
  const q = [
    w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
    w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
    w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
  ];
  const norm = Math.hypot(...q);
  return q.map((v) => v / norm);
}

function rotate([x, y, z, w], [vx, vy, vz]) {
  return [
    (1 - 2 * (y * y + z * z)) * vx + 2 * (x * y - z * w) * vy + 2 * (x * z + y * w) * vz,
    2 * (x * y + z * w) * vx + (1 - 2 * (x * x + z * z)) * vy + 2 * (y * z - x * w) * vz,
    2 * (x * z - y * w) * vx + 2 * (y * z + x * w) * vy + (1 - 2 * (x * x + y * y)) * vz,
  ];
}

/** Navigates a camera record with mouse, wheel and key messages. */
export class Examiner {
  /** @param {object} camera the camera record to move (changed in place) */
  constructor(camera) {
    this.camera = camera;
    this._home = null;
    this._pressed = 0;
    this._last = null;
  }

  /**
   * Applies one input message, as the service's examiner applies the event.
   * @param {{type: string, action?: string, x: number, y: number, button?: number, buttons?: number, mods?: number, delta?: number, key?: string}} message
   * @param {{width: number, height: number}} viewport
   * @returns {boolean} whether the camera moved
   */
  handle(message, viewport) {
    if (message.type === "key") {
      if (message.action === "down" && message.key === "Home" && this._home) {
        Object.assign(this.camera, structuredClone(this._home));
        return true;
      }
      return false;
    }
    if (!this._home) this._home = structuredClone(this.camera);
    if (message.type === "wheel") {
      this.zoom(WHEEL_ZOOM_PER_LINE ** message.delta);
      return true;
    }
    if (message.type !== "mouse") return false;
    const bit = BIT_OF_BUTTON[message.button] ?? 0;
    if (message.action === "down") {
      this._pressed |= bit;
      this._last = [message.x, message.y];
      return false;
    }
    if (message.action === "up") {
      this._pressed &= ~bit;
      return false;
    }
    if (message.action !== "move") return false;
    const held = message.buttons || this._pressed;
    const last = this._last;
    this._last = [message.x, message.y];
    const drag = dragFor(held, message.mods ?? 0);
    if (!drag || !last) return false;
    const dx = message.x - last[0];
    const dy = message.y - last[1];
    if (drag === "orbit") {
      const scale = Math.PI / Math.min(viewport.width, viewport.height);
      this.turnAroundFocalPoint(-dx * scale, -dy * scale);
    } else if (drag === "pan") {
      const units = this.unitsPerPixel(viewport);
      this.pan(-dx * units, dy * units);
    } else {
      this.zoom(2 ** (dy / (viewport.height / 2)));
    }
    return true;
  }

  /**
   * Orbits by `yaw` around the camera's up, then `pitch` around its right (`Camera.turn_around_focal_point`).
   * @param {number} yaw radians
   * @param {number} pitch radians
   */
  turnAroundFocalPoint(yaw, pitch) {
    const camera = this.camera;
    const [sy, cy, sp, cp] = [Math.sin(yaw / 2), Math.cos(yaw / 2), Math.sin(pitch / 2), Math.cos(pitch / 2)];
    const back = rotate(camera.orientation, [0, 0, 1]);
    const orientation = multiplyQuaternions(camera.orientation, [cy * sp, sy * cp, -sy * sp, cy * cp]);
    const newBack = rotate(orientation, [0, 0, 1]);
    camera.orientation = orientation;
    camera.position = camera.position.map((p, k) => p + camera.focal_distance * (newBack[k] - back[k]));
  }

  /**
   * Slides the camera sideways and up (`Camera.pan`).
   * @param {number} right
   * @param {number} up
   */
  pan(right, up) {
    const r = rotate(this.camera.orientation, [1, 0, 0]);
    const u = rotate(this.camera.orientation, [0, 1, 0]);
    this.camera.position = this.camera.position.map((p, k) => p + r[k] * right + u[k] * up);
  }

  /**
   * Shows `factor` times as much of the scene (`Camera.zoom`).
   * @param {number} factor
   */
  zoom(factor) {
    const camera = this.camera;
    if (camera.orthographic) {
      camera.height *= factor;
      return;
    }
    const view = rotate(camera.orientation, [0, 0, -1]);
    const pivot = camera.position.map((p, k) => p + view[k] * camera.focal_distance);
    camera.focal_distance *= factor;
    camera.position = pivot.map((p, k) => p - view[k] * camera.focal_distance);
  }

  /**
   * How far one pixel spans at the focal point (`Camera.units_per_pixel`).
   * @param {{width: number, height: number}} viewport
   * @returns {number}
   */
  unitsPerPixel(viewport) {
    const half = halfExtents(this.camera, viewport.width / viewport.height)[1];
    return this.camera.orthographic ? 2 * half / viewport.height : 2 * half * this.camera.focal_distance / viewport.height;
  }
}

function dragFor(held, mods) {
  if (held & MIDDLE) return "pan";
  if (held & RIGHT) return "dolly";
  if (held & LEFT) {
    if (mods & SHIFT) return "pan";
    if (mods & CTRL) return "dolly";
    return "orbit";
  }
  return null;
}
