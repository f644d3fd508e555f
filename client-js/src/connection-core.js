/**
 * The connection core of a render area: one WebSocket to a remoteviz service at a time, from
 * `hello` to the close and the reconnection, with the listeners, the statistics and the rule that
 * every frame is acknowledged once. No DOM here: the socket, the display backend that shows what
 * arrives, the clock and the timers are handed in, so Node drives it with fakes
 * (`test/connection-core.test.mjs`); `render-area.js` hands in the browser's.
 * @module connection-core
 */

import {
  DisconnectReason,
  ackMessage,
  disconnectReason,
  failureEvent,
  helloMessage,
  keyFrameMessage,
  parseServiceBinary,
  parseServiceText,
  pongMessage,
  streamingMode,
} from "./protocol.js";
import { InputLatency } from "./latency.js";
import { RateMeter, pictureScale } from "./stats.js";
import { reconnectDelay } from "./reconnect.js";

/** `WebSocket.OPEN`, named here so the core needs no browser global. */
const OPEN = 1;

/**
 * What the core needs of a WebSocket: the browser's `WebSocket`, or a fake in tests.
 * @typedef {object} SocketLike
 * @property {string} url
 * @property {number} readyState 1 when open
 * @property {string} binaryType
 * @property {(data: string|Uint8Array) => void} send
 * @property {(code?: number) => void} close
 * @property {(() => void)|null} onopen
 * @property {((event: {data: string|ArrayBuffer}) => void)|null} onmessage
 * @property {((event: {code: number, reason: string}) => void)|null} onclose
 */

/**
 * A display backend: what shows the frames of one connection. `frame-display.js` makes the one
 * for server pictures (images and video).
 * @typedef {object} Display
 * @property {(frame: import("./protocol.js").Frame) => void} push takes a received frame; reports it done once
 * @property {(stream: {codecString: string, width: number, height: number}) => void} configure a video stream (re)starts
 * @property {() => void} close nothing is shown or reported after this
 */

/**
 * @callback CreateDisplay
 * @param {{done: (frame: import("./protocol.js").Frame, outcome: import("./frames.js").FrameOutcome) => void,
 *          requestKeyFrame: () => void}} hooks
 * @returns {Display}
 */

/**
 * Calls each listener, so that one that throws does not stop the others or the stream.
 * @param {Iterable<Function>} listeners
 * @param {...any} args
 * @returns {boolean} false when one of them returned false
 */
export function notifyAll(listeners, ...args) {
  let allowed = true;
  for (const listener of [...listeners]) {
    try {
      if (listener(...args) === false) allowed = false;
    } catch (error) {
      console.error("remoteviz: a listener failed", error);
    }
  }
  return allowed;
}

/** One service connection at a time, reconnected per its options. */
export class ConnectionCore {
  /**
   * @param {object} hooks
   * @param {(url: string) => SocketLike} hooks.createSocket
   * @param {() => object} hooks.hello the fields of `hello` but `decoders` (see `helloMessage`)
   * @param {() => Promise<string[]>} hooks.decoders the codecs the page decodes, probed while the socket opens
   * @param {CreateDisplay} hooks.createDisplay the display of a new connection
   * @param {(width: number, height: number) => void} hooks.areaSize the service named the render area's size
   * @param {() => void} hooks.accepted the service accepted the connection (after the listeners heard it)
   * @param {((message: object) => void)|null} [hooks.scene] takes the messages of client-side
   *   rendering (`render`, `scene`, `camera`, scene chunks); without it they are ignored as unknown
   * @param {boolean|import("./reconnect.js").ReconnectOptions} [hooks.reconnect]
   * @param {() => number} [hooks.now] milliseconds
   * @param {(callback: () => void, ms: number) => unknown} [hooks.setTimer]
   * @param {(timer: unknown) => void} [hooks.clearTimer]
   */
  constructor({ createSocket, hello, decoders, createDisplay, areaSize, accepted, scene = null, reconnect = false,
    now = () => performance.now(), setTimer = (callback, ms) => setTimeout(callback, ms), clearTimer = (timer) => clearTimeout(timer) }) {
    this._hooks = { createSocket, hello, decoders, createDisplay, areaSize, accepted, scene };
    this._reconnect = reconnect;
    this._now = now;
    this._setTimer = setTimer;
    this._clearTimer = clearTimer;
    /** The listener sets, by the name the render area's add/remove methods use. */
    this.listeners = {
      service: new Set(),
      receivedFrame: new Set(),
      decodedFrame: new Set(),
      receivedMessage: new Set(),
    };
    this._url = null;
    /** The live connection's state, null while disconnected. */
    this._connection = null;
    this._accepted = null;
    this._attempt = 0;
    this._reconnectTimer = null;
    this._generation = 0; // bumped by disconnect(): a close handled after it is a stale one
    this._stats = { frames: new RateMeter(), bytes: new RateMeter(), inputLatencyMs: null, decodeMs: null, codec: null, framesReceived: 0, framesPainted: 0, framesDropped: 0, interactiveScale: 1 };
  }

  /**
   * Connects to a WebSocket URL, closing an open connection first.
   * @param {string} url absolute ws: or wss:
   */
  connectTo(url) {
    this.disconnect();
    this._url = url;
    this._attempt = 0;
    this._open();
  }

  /** Closes the connection (service listeners hear `disconnected`, DISPOSED) and stops reconnecting. */
  disconnect() {
    this._generation += 1;
    this._clearTimer(this._reconnectTimer);
    this._reconnectTimer = null;
    const connection = this._connection;
    if (!connection) return;
    this._drop(connection);
    connection.ws.close(1000);
    notifyAll(this.listeners.service, ["disconnected", DisconnectReason.DISPOSED, "disconnect() was called"]);
  }

  /** @returns {boolean} whether the service accepted the connection and it is open */
  isConnected() {
    return Boolean(this._connection?.accepted) && this._connection.ws.readyState === OPEN;
  }

  /**
   * Sends a message on the live connection once it is accepted.
   * @param {object|Uint8Array} message a JSON-able object or a binary message
   * @returns {boolean} false when not connected
   */
  send(message) {
    return this.isConnected() && this._send(this._connection, message);
  }

  /**
   * Sends an input message, numbered so that the frame that first shows it gives the input latency.
   * @param {object} message
   * @returns {boolean} false when not connected
   */
  sendInput(message) {
    if (!this.isConnected()) return false;
    const connection = this._connection;
    return this._send(connection, { ...message, seq: connection.latency.next(this._now()) });
  }

  /** @returns {object|null} what `accept` said (the `connected` event's details); null before it */
  get accepted() {
    return this._accepted;
  }

  /** @returns {object} the streaming statistics (see `stats.js`), but `videoInWorker` */
  stats() {
    const now = this._now();
    const { frames, bytes, ...counts } = this._stats;
    return { fps: frames.rate(now), bandwidth: bytes.rate(now), ...counts };
  }

  // ----------------------------------------------------------------------- internals

  _open() {
    const ws = this._hooks.createSocket(this._url);
    ws.binaryType = "arraybuffer";
    const connection = {
      ws,
      opened: false, // the socket opened: a close before says the service was never reached
      accepted: false,
      disconnect: null,
      errorDetail: "",
      latency: new InputLatency(),
      display: null,
    };
    connection.display = this._hooks.createDisplay({
      done: (frame, outcome) => this._frameDone(connection, frame, outcome),
      requestKeyFrame: () => this._send(connection, keyFrameMessage()),
    });
    this._connection = connection;
    this._accepted = null;
    // The codec probe runs while the socket opens; hello waits for both.
    const decoders = this._hooks.decoders();
    ws.onopen = async () => {
      connection.opened = true;
      const list = await decoders;
      if (this._connection !== connection) return;
      this._send(connection, helloMessage({ ...this._hooks.hello(), decoders: list }));
    };
    ws.onmessage = (event) => {
      if (this._connection === connection) this._receive(connection, event.data);
    };
    ws.onclose = (event) => {
      if (this._connection === connection) this._closed(connection, event.code, event.reason);
    };
  }

  // Forgets a connection: its frames in flight are not painted, nor acknowledged.
  _drop(connection) {
    connection.display.close();
    this._connection = null;
    this._accepted = null;
  }

  _closed(connection, code, closeReason) {
    this._drop(connection);
    let { reason, detail } = disconnectReason(code, connection.disconnect, connection.errorDetail, closeReason);
    if (!connection.opened && !connection.disconnect && !connection.errorDetail) {
      detail = `could not reach ${connection.ws.url}: no service listens there, or something on the way `
        + `refuses WebSockets (code ${code})`;
    }
    // A listener may call disconnect(), connectTo() or dispose(): then this close is not ours to
    // follow up any more.
    const generation = this._generation;
    notifyAll(this.listeners.service, ["disconnected", reason, detail]);
    if (!this._reconnect || generation !== this._generation) return;
    const delay = reconnectDelay(reason, this._attempt, this._reconnect === true ? {} : this._reconnect);
    if (delay === null) return;
    this._attempt += 1;
    notifyAll(this.listeners.service, ["reconnecting", this._attempt, delay]);
    if (generation !== this._generation) return;
    this._reconnectTimer = this._setTimer(() => {
      this._reconnectTimer = null;
      this._open();
    }, delay);
  }

  _send(connection, message) {
    if (connection.ws.readyState !== OPEN) return false;
    connection.ws.send(message instanceof Uint8Array ? message : JSON.stringify(message));
    return true;
  }

  _receive(connection, data) {
    this._stats.bytes.add(this._now(), typeof data === "string" ? data.length : data.byteLength);
    try {
      if (typeof data === "string") this._receiveText(connection, parseServiceText(data));
      else this._receiveBinary(connection, parseServiceBinary(data));
    } catch (error) {
      // A message this page cannot read is the service's bug; the page can only report it and go on.
      console.warn("remoteviz: ignored a malformed message from the service:", error.message);
    }
  }

  _receiveBinary(connection, message) {
    if (message.type === "message") {
      notifyAll(this.listeners.receivedMessage, message.data);
      return;
    }
    if (message.type === "scene_chunk") {
      if (this._hooks.scene) this._hooks.scene(message);
      else console.warn("remoteviz: ignored a scene chunk: this page does not draw client-side");
      return;
    }
    this._stats.framesReceived += 1;
    const { id, width, height, codec, still, key, text, byteLength } = message;
    notifyAll(this.listeners.receivedFrame, { id, width, height, codec, still, key, text, byteLength });
    connection.display.push(message);
  }

  _receiveText(connection, message) {
    switch (message.type) {
      case "accept":
        connection.accepted = true;
        this._attempt = 0;
        this._accepted = {
          connectionId: message.connection_id,
          clientId: message.client_id,
          renderAreaId: message.render_area_id,
          width: message.width,
          height: message.height,
          stillEncoder: message.still_encoder,
          interactiveEncoder: message.interactive_encoder,
          streamingMode: streamingMode(message.still_encoder, message.interactive_encoder),
        };
        this._hooks.areaSize(message.width, message.height);
        notifyAll(this.listeners.service, ["connected", { ...this._accepted }]);
        this._hooks.accepted();
        break;
      case "disconnect":
        connection.disconnect = message;
        break;
      case "error":
        connection.errorDetail = String(message.detail ?? "");
        notifyAll(this.listeners.service, ["error", connection.errorDetail]);
        break;
      case "failure":
        notifyAll(this.listeners.service, failureEvent(message));
        break;
      case "notify": {
        const { type, event, ...fields } = message;
        notifyAll(this.listeners.service, [event, fields]);
        break;
      }
      case "resize":
        this._hooks.areaSize(message.width, message.height);
        break;
      case "stream":
        connection.display.configure({ codecString: message.codec_string, width: message.width, height: message.height });
        break;
      case "ping":
        this._send(connection, pongMessage(message.t));
        break;
      case "message":
        notifyAll(this.listeners.receivedMessage, String(message.text));
        break;
      case "render":
      case "scene":
      case "camera":
        if (this._hooks.scene) {
          this._hooks.scene(message);
          break;
        }
      // falls through: a page that never asked for client-side rendering knows no such message
      default:
        console.warn(`remoteviz: ignored a message of unknown type "${message.type}"`);
    }
  }

  _frameDone(connection, frame, outcome) {
    this._send(connection, ackMessage(frame.id, outcome.decodeMs));
    if (!outcome.shown) {
      this._stats.framesDropped += 1;
      if (outcome.error) console.warn(`remoteviz: frame ${frame.id} could not be shown`, outcome.error);
      return;
    }
    const now = this._now();
    const inputLatencyMs = frame.inputSeq ? connection.latency.resolve(frame.inputSeq, now) : null;
    const stats = this._stats;
    stats.frames.add(now);
    stats.framesPainted += 1;
    stats.decodeMs = outcome.decodeMs;
    stats.codec = frame.codec;
    if (!frame.still) stats.interactiveScale = pictureScale(frame);
    if (inputLatencyMs !== null) stats.inputLatencyMs = inputLatencyMs;
    notifyAll(this.listeners.decodedFrame, {
      id: frame.id,
      codec: frame.codec,
      lossless: frame.codec === "png",
      still: frame.still,
      text: frame.text,
      decodeMs: outcome.decodeMs,
      inputLatencyMs,
    });
  }
}
