/**
 * The remoteviz wire protocol, version 1, as the browser speaks it: the messages it sends, the
 * frames and messages it receives, and what a closed connection means. No DOM and no sockets here,
 * so Node can test every byte. `docs/protocol.md` is the specification; the field names below are
 * copied from it and checked against it by the tests.
 * @module protocol
 */

/** The protocol version announced in `hello`. */
export const PROTOCOL_VERSION = 1;

/** Bytes before a frame's text and payload. */
export const FRAME_HEADER_SIZE = 24;

/** The first byte of every binary message. */
export const BinaryKind = Object.freeze({ FRAME: 1, MESSAGE: 2, SCENE_CHUNK: 3 });

/** Bytes before a scene chunk's payload. */
export const SCENE_CHUNK_HEADER_SIZE = 32;

/** Who draws a view: the service (frames), the browser (geometry), or the service's choice. */
export const RenderMode = Object.freeze({ SERVER: "server", CLIENT: "client", AUTO: "auto" });

/** Codec ids of the frame header, by name as used in `hello.decoders` and `stream.codec`. */
export const Codec = Object.freeze({ jpeg: 1, png: 2, h264: 3, vp9: 4, av1: 5 });

const CODEC_NAMES = Object.freeze(Object.fromEntries(Object.entries(Codec).map(([name, id]) => [id, name])));

/** Codecs whose frames depend on earlier ones and go through a video decoder. */
export const VIDEO_CODECS = Object.freeze(["h264", "vp9", "av1"]);

/** MIME types of the image codecs, for `Blob` and `createImageBitmap`. */
export const IMAGE_MIME_TYPES = Object.freeze({ jpeg: "image/jpeg", png: "image/png" });

const FLAG_KEY = 1;
const FLAG_STILL = 2;

/** Why a connection ended, as the service listeners are told. */
export const DisconnectReason = Object.freeze({
  /** The render area was disposed, or the page closed the connection. */
  DISPOSED: "DISPOSED",
  /** The application refused the connection. */
  REFUSED: "REFUSED",
  /** The application closed the connection (or the service closed it for a protocol error). */
  KICKED: "KICKED",
  /** The network or the service failed: nothing said why. */
  NETWORKFAILURE: "NETWORKFAILURE",
});

/** WebSocket close codes the service uses. */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  DISPOSED: 4001,
  REFUSED: 4002,
  KICKED: 4003,
  NETWORKFAILURE: 4004,
  PROTOCOL_ERROR: 4400,
  TOO_BIG: 1009, // the WebSocket layer's "message too big"
  FLOOD: 4429,
});

// Bounds the service enforces (remoteviz/protocol.py): exceeding any of them closes the connection
// with a protocol error, so the builders below clamp instead of trusting their callers.
const MAX_SIDE = 8192;
const MAX_COORD = 4 * MAX_SIDE;
const MAX_WHEEL_DELTA = 1000;
const MAX_KEY_LENGTH = 32;
const MAX_CLIENT_ID_LENGTH = 128;
const MAX_APPLICATION_LENGTH = 256;
const MAX_USER_AGENT_LENGTH = 1024;
const MAX_TOUCH_ID = 2 ** 31 - 1;

/** Raised for a message from the service that breaks the protocol. */
export class ProtocolError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "ProtocolError";
  }
}

const clamp = (value, lo, hi) => Math.min(hi, Math.max(lo, value));
const side = (value, lo) => clamp(Math.round(Number(value) || 0), lo, MAX_SIDE);
const coord = (value) => clamp(Math.floor(value), -MAX_COORD, MAX_COORD);
// Truncate by code points so that a character outside the BMP is never cut in half.
const truncate = (text, max) => Array.from(String(text)).slice(0, max).join("");

// ------------------------------------------------------------------------- client -> service

/**
 * The first message of a connection.
 * @param {object} hello
 * @param {string} hello.clientId the page's id, shared by all its render areas
 * @param {number} hello.width requested render area width in pixels, 0 to let the service choose
 * @param {number} hello.height requested render area height in pixels
 * @param {number} hello.containerWidth the container's width in CSS pixels
 * @param {number} hello.containerHeight the container's height in CSS pixels
 * @param {string[]} hello.decoders codec names the page decodes
 * @param {string} hello.application the application's name
 * @param {string} hello.userAgent the browser's user agent
 */
export function helloMessage({ clientId, width, height, containerWidth, containerHeight, decoders, application, userAgent }) {
  return {
    type: "hello",
    version: PROTOCOL_VERSION,
    client_id: truncate(clientId, MAX_CLIENT_ID_LENGTH),
    width: side(width, 0),
    height: side(height, 0),
    container_width: side(containerWidth, 0),
    container_height: side(containerHeight, 0),
    decoders: [...decoders],
    application: truncate(application, MAX_APPLICATION_LENGTH),
    user_agent: truncate(userAgent, MAX_USER_AGENT_LENGTH),
  };
}

/**
 * A mouse event in render-area pixels.
 * @param {"down"|"up"|"move"|"dblclick"|"enter"|"leave"} action
 * @param {number} x
 * @param {number} y
 * @param {number} button DOM numbering: 0 left, 1 middle, 2 right, 3 back, 4 forward
 * @param {number} buttons bit mask of the buttons held, as DOM `MouseEvent.buttons`
 * @param {number} mods modifier bit mask: 1 Shift, 2 Ctrl, 4 Alt, 8 Meta
 */
export function mouseMessage(action, x, y, button, buttons, mods) {
  return { type: "mouse", action, x: coord(x), y: coord(y), button: clamp(button, 0, 4), buttons: buttons & 31, mods };
}

/**
 * A wheel turn; `delta` in lines, positive towards the user.
 * @param {number} x
 * @param {number} y
 * @param {number} delta
 * @param {number} mods
 */
export function wheelMessage(x, y, delta, mods) {
  return { type: "wheel", x: coord(x), y: coord(y), delta: clamp(delta, -MAX_WHEEL_DELTA, MAX_WHEEL_DELTA), mods };
}

/**
 * A key press or release at the pointer's last position.
 * @param {"down"|"up"} action
 * @param {number} x
 * @param {number} y
 * @param {string} key DOM `KeyboardEvent.key`
 * @param {number} mods
 */
export function keyMessage(action, x, y, key, mods) {
  return { type: "key", action, x: coord(x), y: coord(y), key: truncate(key, MAX_KEY_LENGTH), mods };
}

/**
 * One touch point.
 * @param {"start"|"move"|"end"|"cancel"} action
 * @param {number} id the touch point's id, stable while the finger is down
 * @param {number} x
 * @param {number} y
 */
export function touchMessage(action, id, x, y) {
  return { type: "touch", action, id: clamp(Math.trunc(id), 0, MAX_TOUCH_ID), x: coord(x), y: coord(y) };
}

/**
 * Acknowledges a frame: it was painted (or dropped), so the service may send another.
 * @param {number} frameId
 * @param {number} decodeMs
 */
export function ackMessage(frameId, decodeMs) {
  // A tenth of a millisecond is finer than any decoder's jitter; more digits only cost bytes.
  return { type: "ack", frame: frameId, decode_ms: Math.max(0, Math.round(decodeMs * 10) / 10) };
}

/**
 * Asks for a new render area size.
 * @param {number} width pixels, 1..8192
 * @param {number} height pixels, 1..8192
 */
export function sizeMessage(width, height) {
  return { type: "size", width: side(width, 1), height: side(height, 1) };
}

/**
 * Tells the service the container's new size.
 * @param {number} width CSS pixels
 * @param {number} height CSS pixels
 */
export function containerMessage(width, height) {
  return { type: "container", width: side(width, 0), height: side(height, 0) };
}

/**
 * The answer to the service's `ping`.
 * @param {number} t the `t` the ping carried
 */
export function pongMessage(t) {
  return { type: "pong", t };
}

/** Asks the service for a video key frame after the decoder failed. */
export function keyFrameMessage() {
  return { type: "keyframe" };
}

/**
 * An application text message.
 * @param {string} text
 */
export function textMessage(text) {
  return { type: "message", text: String(text) };
}

/**
 * An application binary message: the kind byte, then the bytes.
 * @param {Uint8Array|ArrayBuffer|ArrayBufferView} data
 * @returns {Uint8Array}
 */
export function binaryMessage(data) {
  const bytes = ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
  const message = new Uint8Array(bytes.length + 1);
  message[0] = BinaryKind.MESSAGE;
  message.set(bytes, 1);
  return message;
}

/**
 * Asks who should draw the view (client-side rendering), with what the page can draw with.
 * @param {"client"|"server"|"auto"} mode
 * @param {{webgl2: boolean, software: boolean, memoryMb: number}} capabilities
 */
export function renderMessage(mode, { webgl2, software, memoryMb }) {
  if (!Object.values(RenderMode).includes(mode)) throw new TypeError(`unknown render mode ${mode}`);
  return { type: "render", mode, webgl2: Boolean(webgl2), software: Boolean(software), memory_mb: clamp(Math.round(Number(memoryMb) || 0), 0, 1 << 24) };
}

/**
 * Acknowledges a scene chunk: the service may send another.
 * @param {number} chunk
 */
export function sceneAckMessage(chunk) {
  return { type: "scene_ack", chunk };
}

/**
 * The page's camera after its own navigation (client-side rendering): the service's camera takes it.
 * @param {{position: number[], orientation: number[], focal_distance: number, height: number, orthographic: boolean}} camera
 * @param {number} seq the last `scene` update the page received: a camera moved from one the
 *   service has replaced since is stale, and the service ignores it
 */
export function cameraMessage(camera, seq) {
  return {
    type: "camera",
    position: [...camera.position],
    orientation: [...camera.orientation],
    focal_distance: camera.focal_distance,
    height: camera.height,
    orthographic: Boolean(camera.orthographic),
    seq,
  };
}

// ------------------------------------------------------------------------- service -> client

/**
 * A frame, as parsed from its binary message.
 * @typedef {object} Frame
 * @property {"frame"} type
 * @property {number} id frame id, increasing per connection
 * @property {string} codec "jpeg", "png", "h264", "vp9" or "av1"
 * @property {boolean} key decodable on its own
 * @property {boolean} still a still (best quality) frame rather than an interactive one
 * @property {number} width of the encoded picture
 * @property {number} height of the encoded picture
 * @property {number} areaWidth of the render area the picture shows
 * @property {number} areaHeight of the render area the picture shows
 * @property {number} inputSeq the last input `seq` the frame shows, 0 if none
 * @property {string} text what the application attached to the frame
 * @property {Uint8Array} payload the encoded picture (a view into the message, not a copy)
 * @property {number} byteLength the whole message's size
 */

/**
 * A piece of a deflated scene buffer, as parsed from its binary message.
 * @typedef {object} SceneChunk
 * @property {"scene_chunk"} type
 * @property {number} chunk its number, to acknowledge
 * @property {string} buffer the buffer's name: 32 hexadecimal digits
 * @property {number} offset where the payload goes in the deflated buffer
 * @property {number} total the deflated buffer's size
 * @property {Uint8Array} payload
 */

function parseSceneChunk(bytes) {
  if (bytes.length < SCENE_CHUNK_HEADER_SIZE) throw new ProtocolError("scene chunk shorter than its header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offset = view.getUint32(8, true);
  const total = view.getUint32(12, true);
  const payload = bytes.subarray(SCENE_CHUNK_HEADER_SIZE);
  if (offset + payload.length > total) throw new ProtocolError("scene chunk runs past its buffer's end");
  const buffer = Array.from(bytes.subarray(16, 32), (b) => b.toString(16).padStart(2, "0")).join("");
  return { type: "scene_chunk", chunk: view.getUint32(4, true), buffer, offset, total, payload };
}

/**
 * Parses a binary message from the service: a frame, application bytes or a scene chunk.
 * @param {ArrayBuffer|Uint8Array} data
 * @returns {Frame | SceneChunk | {type: "message", data: Uint8Array}}
 * @throws {ProtocolError} when the message is malformed
 */
export function parseServiceBinary(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length === 0) throw new ProtocolError("empty binary message");
  if (bytes[0] === BinaryKind.MESSAGE) return { type: "message", data: bytes.subarray(1) };
  if (bytes[0] === BinaryKind.SCENE_CHUNK) return parseSceneChunk(bytes);
  if (bytes[0] !== BinaryKind.FRAME) throw new ProtocolError(`unknown binary message kind ${bytes[0]}`);
  if (bytes.length < FRAME_HEADER_SIZE) throw new ProtocolError(`frame shorter than its ${FRAME_HEADER_SIZE}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const codec = CODEC_NAMES[bytes[1]];
  if (!codec) throw new ProtocolError(`unknown codec id ${bytes[1]}`);
  const flags = bytes[2];
  const textLength = view.getUint32(20, true);
  const textEnd = FRAME_HEADER_SIZE + textLength;
  if (textEnd > bytes.length) throw new ProtocolError("frame text runs past the end of the message");
  return {
    type: "frame",
    id: view.getUint32(4, true),
    codec,
    key: (flags & FLAG_KEY) !== 0,
    still: (flags & FLAG_STILL) !== 0,
    width: view.getUint16(8, true),
    height: view.getUint16(10, true),
    areaWidth: view.getUint16(12, true),
    areaHeight: view.getUint16(14, true),
    inputSeq: view.getUint32(16, true),
    text: textLength ? new TextDecoder().decode(bytes.subarray(FRAME_HEADER_SIZE, textEnd)) : "",
    payload: bytes.subarray(textEnd),
    byteLength: bytes.length,
  };
}

/**
 * Parses a text message from the service.
 * @param {string} text
 * @returns {{type: string, [field: string]: any}}
 * @throws {ProtocolError} when it is not a JSON object with a string `type`
 */
export function parseServiceText(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    throw new ProtocolError("a text message must be a JSON object");
  }
  if (message === null || typeof message !== "object" || Array.isArray(message) || typeof message.type !== "string") {
    throw new ProtocolError("a text message must be a JSON object with a string field 'type'");
  }
  return message;
}

const REASON_BY_CLOSE_CODE = Object.freeze({
  [CloseCode.NORMAL]: DisconnectReason.DISPOSED,
  [CloseCode.DISPOSED]: DisconnectReason.DISPOSED,
  [CloseCode.REFUSED]: DisconnectReason.REFUSED,
  [CloseCode.KICKED]: DisconnectReason.KICKED,
  [CloseCode.NETWORKFAILURE]: DisconnectReason.NETWORKFAILURE,
});

/**
 * Why a connection ended, from what the service said before closing and the close code.
 *
 * The `disconnect` message wins when there was one. Otherwise codes 4400..4499 and 1009 (the page
 * broke the protocol, or sent too big a message) count as KICKED, since reconnecting would only
 * repeat the error; every other
 * code without a meaning of its own (1006 for a dropped network, 1001, a proxy's 4500,
 * 1011...) is a NETWORKFAILURE.
 * @param {number} code the WebSocket close code
 * @param {{reason: string, detail?: string} | null} disconnect the `disconnect` message, if any
 * @param {string} [errorDetail] the `error` message's detail, if any
 * @param {string} [closeReason] the WebSocket close reason text
 * @returns {{reason: string, detail: string}}
 */
export function disconnectReason(code, disconnect, errorDetail = "", closeReason = "") {
  if (disconnect && Object.values(DisconnectReason).includes(disconnect.reason)) {
    return { reason: disconnect.reason, detail: disconnect.detail || closeReason };
  }
  const detail = errorDetail || closeReason;
  if (code in REASON_BY_CLOSE_CODE) return { reason: REASON_BY_CLOSE_CODE[code], detail };
  if ((code >= 4400 && code < 4500) || code === CloseCode.TOO_BIG) return { reason: DisconnectReason.KICKED, detail };
  return { reason: DisconnectReason.NETWORKFAILURE, detail: detail || `connection closed (code ${code})` };
}

/**
 * The service event a `failure` message becomes: the service cannot make frames for this view
 * now (rendering or encoding failed) and retries after `retryMs`; the connection stays open and
 * the next frame means it works again. A page shows `detail` instead of a frozen picture.
 * @param {{stage?: unknown, detail?: unknown, retry_ms?: unknown}} message
 * @returns {["failure", {stage: "render" | "encode" | string, detail: string, retryMs: number}]}
 */
export function failureEvent(message) {
  const retryMs = Number(message.retry_ms);
  return ["failure", {
    stage: String(message.stage ?? ""),
    detail: String(message.detail ?? ""),
    retryMs: Number.isFinite(retryMs) && retryMs > 0 ? retryMs : 0,
  }];
}

/**
 * Whether a connection streams images or video, from the encoders its `accept` names
 * ("JPEG", "PNG", "H264_NVENC", "VP9_VPX"...; the two are never mixed).
 * @param {string} stillEncoder
 * @param {string} interactiveEncoder
 * @returns {"image"|"video"}
 */
export function streamingMode(stillEncoder, interactiveEncoder) {
  const isVideo = (encoder) => VIDEO_CODECS.some((codec) => String(encoder).toLowerCase().includes(codec));
  return isVideo(stillEncoder) || isVideo(interactiveEncoder) ? "video" : "image";
}

/**
 * The WebSocket URL to open for `url`: absolute `ws:`/`wss:` URLs as they are; `http:`/`https:`
 * ones, and paths relative to the page, on the matching WebSocket scheme (so a page served by
 * the service itself can say `connectTo("/TheCone")`).
 * @param {string} url
 * @param {string} base the page's URL
 * @returns {string}
 */
export function webSocketUrl(url, base) {
  const resolved = new URL(url, base);
  if (resolved.protocol === "http:") resolved.protocol = "ws:";
  else if (resolved.protocol === "https:") resolved.protocol = "wss:";
  return resolved.href;
}
