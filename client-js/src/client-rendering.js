/**
 * The hybrid switch of a render area: whether its view is drawn by the service (frames) or by the
 * page (geometry and WebGL2), and the move between the two. No DOM here: the WebGL renderer's
 * loading, the canvases' showing, the clock and the capability probe are handed in, so Node
 * drives every transition (`test/client-rendering.test.mjs`).
 *
 * The service's camera stays the truth: input still goes to the service, whose examiner,
 * listeners, picking and event callbacks work as they do with frames, and the camera it moves
 * comes back in `scene` updates. While the page draws, it holds the frames that still arrive
 * without acknowledging them, so the service's window fills and it stops rendering for this page;
 * going back to frames acknowledges them (dropped), and frames flow again.
 * @module client-rendering
 */

import { RenderMode, renderMessage, sceneAckMessage } from "./protocol.js";
import { SceneStore } from "./scene-store.js";

/** What draws the view now. */
export const DrawnBy = Object.freeze({ SERVER: "server", LOADING: "loading", CLIENT: "client" });

const DROPPED = Object.freeze({ shown: false, decodeMs: 0 });

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
   */
  constructor({ mode, capabilities, createRenderer, show, send, notify, nextFrame = (callback) => requestAnimationFrame(callback), inflate }) {
    this._hooks = { capabilities, createRenderer, show, send, notify, nextFrame, inflate };
    this._mode = mode;
    this.drawnBy = DrawnBy.SERVER;
    this.store = null;
    this._renderer = null;
    this._drawQueued = false;
    this._held = []; // frames not shown while the page draws: [frame, done]
    this._refining = false; // whether the first scene's full detail is yet to be drawn
    this._connection = 0; // bumped per connection: a renderer loaded for an old one is dropped
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
    this._stop();
    if (this._mode !== RenderMode.SERVER) this._hooks.send(renderMessage(this._mode, this._hooks.capabilities()));
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
    if (mode === RenderMode.SERVER) this._stop();
    this._hooks.send(renderMessage(mode, mode === RenderMode.SERVER ? { webgl2: false, software: false, memoryMb: 0 } : this._hooks.capabilities()));
  }

  /**
   * A message of client-side rendering from the service: `render`, `scene`, `camera` or a scene chunk.
   * @param {object} message
   */
  receive(message) {
    switch (message.type) {
      case "render": {
        const client = message.mode === RenderMode.CLIENT;
        if (client) this._start();
        else this._stop();
        this._hooks.notify(["renderMode", { mode: this.drawnBy, reason: String(message.reason ?? "") }]);
        break;
      }
      case "scene":
        this.store?.update(message);
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
    this._stop();
    this._hooks.send(renderMessage(RenderMode.SERVER, { webgl2: false, software: false, memoryMb: 0 }));
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
      this._stop();
      this._hooks.send(renderMessage(RenderMode.SERVER, { webgl2: false, software: false, memoryMb: 0 }));
    });
  }

  _stop() {
    const wasClient = this.drawnBy !== DrawnBy.SERVER;
    this.drawnBy = DrawnBy.SERVER;
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
      this._renderer.draw(this.store);
    } catch (error) {
      console.warn("remoteviz: drawing client-side failed; showing the service's frames", error);
      this._stop();
      this._hooks.send(renderMessage(RenderMode.SERVER, { webgl2: false, software: false, memoryMb: 0 }));
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
