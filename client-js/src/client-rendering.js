/**
 * The hybrid switch of a render area: whether its view is drawn by the service (frames) or by the
 * page (geometry and WebGL2), and the move between the two. No DOM here: the WebGL renderer's
 * loading, the canvases' showing, the clock and the capability probe are handed in, so Node
 * drives every transition (`test/client-rendering.test.mjs`).
 *
 * Navigation runs in the page while it draws and the service says its scene's examiner navigates
 * (`navigation: "page"` in `scene` updates): drags and the wheel move the page's camera with the
 * service examiner's port (`examiner.js`) and the page draws at once; the camera goes to the
 * service in `camera` messages, at most every {@link CAMERA_INTERVAL_MS} during a drag and always
 * before any other input or app message, so the service's camera follows and stays the truth for
 * its listeners, picking and other viewers. Presses, releases, clicks, hover moves, keys (Home,
 * Escape) and touch still go to the service; a camera the service sends (application code,
 * another viewer, Home) replaces the page's. While the page draws, it holds the frames that still
 * arrive without acknowledging them, so the service's window fills and it stops rendering for this
 * page; going back to frames acknowledges them (dropped), and frames flow again.
 * @module client-rendering
 */

import { RenderMode, cameraMessage, renderMessage, sceneAckMessage } from "./protocol.js";
import { SceneStore } from "./scene-store.js";
import { Examiner } from "./examiner.js";

/** What draws the view now. */
export const DrawnBy = Object.freeze({ SERVER: "server", LOADING: "loading", CLIENT: "client" });

const DROPPED = Object.freeze({ shown: false, decodeMs: 0 });

/**
 * The shortest time between two `camera` messages during the page's own navigation: the page's
 * picture follows every move, the service at 8 Hz (each camera costs it a wake-up and a scene
 * update for the area's other viewers: at 8 Hz, under 1% of a core; `benchmarks/csr.py`).
 */
export const CAMERA_INTERVAL_MS = 125;

/** The client-rendering state of one render area, across its connections. */
export class ClientRendering {
  /**
   * @param {object} hooks
   * @param {"client"|"server"|"auto"} hooks.mode what the page asks for
   * @param {() => {webgl2: boolean, software: boolean, memoryMb: number}} hooks.capabilities
   * @param {() => Promise<{draw(store: SceneStore): number, dispose(): void}>} hooks.createRenderer
   *   loads the WebGL renderer (a dynamic import) and makes it on the view's WebGL canvas
   * @param {(drawnBy: string) => void} hooks.show shows the WebGL canvas (CLIENT) or the frames' (otherwise)
   * @param {(message: object) => boolean} hooks.send sends on the live connection
   * @param {(event: [string, ...any[]]) => void} hooks.notify tells the service listeners
   * @param {(callback: () => void) => void} [hooks.nextFrame] runs `callback` before the next paint
   * @param {(bytes: Uint8Array) => Promise<Uint8Array>} [hooks.inflate]
   * @param {() => {width: number, height: number}} [hooks.viewport] the render area's size, for navigation
   * @param {() => number} [hooks.now] milliseconds, for the camera messages' pace
   * @param {(callback: () => void, ms: number) => () => void} [hooks.later] runs `callback` in `ms`; returns a cancel
   */
  constructor({ mode, capabilities, createRenderer, show, send, notify, nextFrame = (callback) => requestAnimationFrame(callback), inflate,
    viewport = () => ({ width: 1, height: 1 }), now = () => performance.now(), later = defaultLater }) {
    this._hooks = { capabilities, createRenderer, show, send, notify, nextFrame, inflate, viewport, now, later };
    this._mode = mode;
    this.drawnBy = DrawnBy.SERVER;
    this.store = null;
    this._renderer = null;
    this._drawQueued = false;
    this._held = []; // frames not shown while the page draws: [frame, done]
    this._refining = false; // whether the first scene's full detail is yet to be drawn
    this._connection = 0; // bumped per connection: a renderer loaded for an old one is dropped
    this._asking = false; // a `render` request is unanswered: the service may stop the stream meanwhile
    this._navigation = "service"; // where the service says navigation runs now
    this._sceneSeq = 0; // the last `scene` update received
    /** The page's camera: the service's last one, moved by the page's navigation. */
    this._camera = null;
    this._examiner = null;
    this._cameraUnsent = false;
    this._cameraSentAt = -Infinity;
    this._cancelCameraTimer = null;
  }

  /** @returns {string} the mode the page asks for */
  get mode() {
    return this._mode;
  }

  /**
   * The service accepted a connection: ask it who should draw, unless the page wants frames.
   */
  accepted() {
    this._connection += 1;
    this._asking = false;
    this._stop();
    if (this._mode !== RenderMode.SERVER) this._ask(renderMessage(this._mode, this._hooks.capabilities()));
  }

  /**
   * The page asks for another mode (`setRenderMode`): ask the service again.
   * @param {"client"|"server"|"auto"} mode
   * @param {boolean} connected
   */
  request(mode, connected) {
    if (!Object.values(RenderMode).includes(mode)) throw new TypeError(`unknown render mode "${mode}"`);
    this._mode = mode;
    if (!connected) return;
    this.flushCamera(); // the service's frames, or its answer, start from the page's view
    if (mode === RenderMode.SERVER) this._stop();
    this._ask(renderMessage(mode, mode === RenderMode.SERVER ? { webgl2: false, software: false, memoryMb: 0 } : this._hooks.capabilities()));
  }

  /**
   * An input message on its way to the service (after the page's input listeners): the page's
   * navigation takes the drags' moves and the wheel while it draws; everything else goes on, after
   * the camera the page shows, so that the service picks and listens with the page's view.
   * @param {{type: string}} message
   * @returns {boolean} whether to send it to the service
   */
  input(message) {
    const viewport = this._hooks.viewport();
    if (this.navigating && (message.type === "wheel" || message.type === "mouse") && viewport.width > 0 && viewport.height > 0) {
      const before = structuredClone(this._camera);
      if (this._examiner.handle(message, viewport)) {
        // A camera the service would refuse (zoomed out past 1e15, say) stays where it was.
        if (sendable(this._camera)) this._moved();
        else Object.assign(this._camera, before);
        return false;
      }
    }
    this.flushCamera();
    return true;
  }

  /** @returns {boolean} whether the page's navigation moves the camera now */
  get navigating() {
    return this.drawnBy === DrawnBy.CLIENT && this._navigation === "page" && !this._asking && this._camera !== null;
  }

  /** Sends the page's camera now if the service has not had it yet (before app messages, say). */
  flushCamera() {
    this._cancelCameraTimer?.();
    this._cancelCameraTimer = null;
    if (!this._cameraUnsent) return;
    this._cameraUnsent = false;
    this._cameraSentAt = this._hooks.now();
    this._hooks.send(cameraMessage(this._camera, this._sceneSeq));
  }

  /**
   * A message of client-side rendering from the service: `render`, `scene`, `camera` or a scene chunk.
   * @param {object} message
   */
  receive(message) {
    switch (message.type) {
      case "render": {
        this._asking = false;
        const client = message.mode === RenderMode.CLIENT;
        if (client) this._start();
        else this._stop();
        this._hooks.notify(["renderMode", { mode: this.drawnBy, reason: String(message.reason ?? "") }]);
        break;
      }
      case "scene":
        if (!this.store) break;
        this._sceneSeq = message.seq;
        if ("navigation" in message) this._navigation = message.navigation;
        if ("camera" in message) this._takeCamera(message.camera);
        this.store.update(message);
        break;
      case "scene_chunk":
        if (!this.store) {
          this._hooks.send(sceneAckMessage(message.chunk)); // late: acknowledged, dropped
          break;
        }
        this.store.chunk(message);
        // Heard until the first scene is drawn in full detail, drawn client-side meanwhile or not.
        if (this._refining) this._hooks.notify(["sceneProgress", this.store.progress()]);
        break;
      default:
        break;
    }
  }

  /**
   * Wraps the frame display: frames are shown unless the page draws the view itself.
   * @param {import("./connection-core.js").Display} display
   * @param {(frame: object, outcome: object) => void} done
   * @returns {import("./connection-core.js").Display}
   */
  wrap(display, done) {
    return {
      push: (frame) => {
        if (this.drawnBy === DrawnBy.CLIENT) this._held.push([frame, done]);
        else display.push(frame);
      },
      configure: (stream) => display.configure(stream),
      close: () => {
        this._held = [];
        display.close();
      },
    };
  }

  /** The view changed size: draw again at the new size. */
  resized() {
    this._queueDraw();
  }

  /** The WebGL context was lost: back to frames, and tell the service. */
  contextLost() {
    console.warn("remoteviz: the WebGL context was lost; showing the service's frames");
    this._fallBack();
  }

  /** Stops drawing client-side and frees the renderer. */
  dispose() {
    this._stop();
  }

  _start() {
    if (this.store) return;
    const connection = this._connection;
    this.drawnBy = DrawnBy.LOADING;
    this._refining = true;
    this.store = new SceneStore({
      inflate: this._hooks.inflate,
      ack: (chunk) => this._hooks.send(sceneAckMessage(chunk)),
      changed: () => this._queueDraw(),
    });
    this._hooks.createRenderer().then((renderer) => {
      if (connection !== this._connection || this.drawnBy === DrawnBy.SERVER) {
        renderer.dispose();
        return;
      }
      this._renderer = renderer;
      this._queueDraw();
    }, (error) => {
      if (connection !== this._connection) return;
      console.warn("remoteviz: client-side rendering failed to start; showing the service's frames", error);
      this._fallBack();
    });
  }

  // Back to the service's frames, from the page's view.
  _fallBack() {
    this.flushCamera();
    this._stop();
    this._ask(renderMessage(RenderMode.SERVER, { webgl2: false, software: false, memoryMb: 0 }));
  }

  _ask(message) {
    this._asking = true;
    this._hooks.send(message);
  }

  // A camera from the service (the first, or one moved by application code, another viewer or
  // its examiner) replaces the page's, even in the middle of a drag: the service's camera is the truth.
  _takeCamera(camera) {
    this._cancelCameraTimer?.();
    this._cancelCameraTimer = null;
    this._cameraUnsent = false;
    if (this._camera) Object.assign(this._camera, structuredClone(camera));
    else {
      this._camera = structuredClone(camera);
      this._examiner = new Examiner(this._camera);
    }
  }

  _moved() {
    this._queueDraw();
    this._cameraUnsent = true;
    const wait = this._cameraSentAt + CAMERA_INTERVAL_MS - this._hooks.now();
    if (wait <= 0) this.flushCamera();
    else this._cancelCameraTimer ??= this._hooks.later(() => {
      this._cancelCameraTimer = null;
      this.flushCamera();
    }, wait);
  }

  _stop() {
    const wasClient = this.drawnBy !== DrawnBy.SERVER;
    this.drawnBy = DrawnBy.SERVER;
    this._cancelCameraTimer?.();
    this._cancelCameraTimer = null;
    this._cameraUnsent = false;
    this._camera = null;
    this._examiner = null;
    this._navigation = "service";
    this.store = null;
    this._renderer?.dispose();
    this._renderer = null;
    if (wasClient) this._hooks.show(DrawnBy.SERVER);
    // The frames held back go as dropped: their acks reopen the window, and frames flow again.
    for (const [frame, done] of this._held.splice(0)) done(frame, DROPPED);
  }

  _queueDraw() {
    if (this._drawQueued) return;
    this._drawQueued = true;
    this._hooks.nextFrame(() => {
      this._drawQueued = false;
      this._draw();
    });
  }

  _draw() {
    if (!this._renderer || !this.store) return;
    // The page keeps showing frames until it can picture the whole scene (every shape at least as
    // its coarse copy or first sample), so the view never loses part of the model it showed; then
    // it draws its own, and refines it as full detail arrives. (Complete and yet not pictured: a
    // buffer failed to inflate; it draws what it has, as the service stops its frames.)
    if (this.drawnBy === DrawnBy.LOADING && !this.store.pictured && !this.store.complete) return;
    try {
      this._renderer.draw(this.store, this._camera ?? this.store.camera);
    } catch (error) {
      console.warn("remoteviz: drawing client-side failed; showing the service's frames", error);
      this._fallBack();
      return;
    }
    if (this.drawnBy === DrawnBy.LOADING) {
      this.drawnBy = DrawnBy.CLIENT;
      this._hooks.show(DrawnBy.CLIENT);
      const reason = this.store.complete ? "the scene has arrived" : "a picture of the whole scene has arrived; full detail follows";
      this._hooks.notify(["renderMode", { mode: DrawnBy.CLIENT, reason }]);
    }
    if (this._refining && this.store.complete) {
      this._refining = false;
      this._hooks.notify(["sceneProgress", { ...this.store.progress(), complete: true }]);
    }
  }
}

/** The protocol's bounds of a `camera` message (`remoteviz/protocol.py` `parse_camera`). */
const MAX_COORDINATE = 1e15;

function sendable(camera) {
  const numbers = [...camera.position, ...camera.orientation, camera.focal_distance, camera.height];
  return numbers.every((v) => Number.isFinite(v) && Math.abs(v) <= MAX_COORDINATE)
    && camera.focal_distance > 0 && camera.height > 0 && (camera.orthographic || camera.height < Math.PI);
}

function defaultLater(callback, ms) {
  const timer = setTimeout(callback, ms);
  return () => clearTimeout(timer);
}
