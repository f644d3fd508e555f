import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionCore } from "../src/connection-core.js";
import { frameDisplay } from "../src/frame-display.js";
import { FRAME_HEADER_SIZE, PROTOCOL_VERSION } from "../src/protocol.js";

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A WebSocket double that records what the core sends; the test plays the service. */
class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.binaryType = "blob";
    this.sent = [];
    this.closedWith = null;
    this.onopen = this.onmessage = this.onclose = null;
  }
  send(data) { this.sent.push(typeof data === "string" ? JSON.parse(data) : data); }
  close(code) { this.closedWith = code; this.readyState = 3; }
  open() { this.readyState = 1; this.onopen(); }
  text(message) { this.onmessage({ data: JSON.stringify(message) }); }
  binary(bytes) { this.onmessage({ data: bytes.buffer }); }
  drop(code, reason = "") { this.readyState = 3; this.onclose({ code, reason }); }
}

/** A frame message as the service writes it (remoteviz/protocol.py encode_frame). */
function frameBytes(id, { codec = 1, flags = 3, inputSeq = 0, payload = [9, 9] } = {}) {
  const bytes = new Uint8Array(FRAME_HEADER_SIZE + payload.length);
  const view = new DataView(bytes.buffer);
  bytes.set([1, codec, flags, 0]);
  view.setUint32(4, id, true);
  view.setUint16(8, 64, true);
  view.setUint16(10, 32, true);
  view.setUint16(12, 64, true);
  view.setUint16(14, 32, true);
  view.setUint32(16, inputSeq, true);
  view.setUint32(20, 0, true);
  bytes.set(payload, FRAME_HEADER_SIZE);
  return bytes;
}

const ACCEPT = { type: "accept", version: 1, connection_id: "c1", client_id: "page", render_area_id: "A", width: 64, height: 32, still_encoder: "PNG", interactive_encoder: "JPEG" };

/** A core wired to fakes: sockets, a display that holds its frames, a manual clock and timers. */
function harness(options = {}) {
  const sockets = [];
  const displays = [];
  const events = [];
  const sizes = [];
  const timers = [];
  let clock = 0;
  const core = new ConnectionCore({
    createSocket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    hello: () => ({ clientId: "page", width: 64, height: 32, containerWidth: 64, containerHeight: 32, application: "test", userAgent: "node" }),
    decoders: async () => ["jpeg", "png"],
    createDisplay: (hooks) => {
      const display = { hooks, frames: [], streams: [], closed: false };
      display.push = (frame) => display.frames.push(frame);
      display.configure = (stream) => display.streams.push(stream);
      display.close = () => { display.closed = true; };
      displays.push(display);
      return display;
    },
    areaSize: (width, height) => sizes.push([width, height]),
    accepted: () => events.push(["accepted-hook"]),
    now: () => clock,
    setTimer: (callback, ms) => timers.push({ callback, ms }),
    clearTimer: () => {},
    ...options,
  });
  core.listeners.service.add((event) => events.push(event));
  return { core, sockets, displays, events, sizes, timers, advance: (ms) => { clock += ms; } };
}

async function connected(options) {
  const h = harness(options);
  h.core.connectTo("ws://service/A");
  h.sockets[0].open();
  await tick();
  h.sockets[0].text(ACCEPT);
  return h;
}

test("hello goes once the socket opens and the decoders are probed; accept connects", async () => {
  const h = harness();
  h.core.connectTo("ws://service/A");
  const socket = h.sockets[0];
  assert.equal(socket.binaryType, "arraybuffer");
  assert.equal(h.core.send({ type: "message", text: "early" }), false, "nothing goes before accept");
  socket.open();
  await tick();
  assert.deepEqual(socket.sent, [{ type: "hello", version: PROTOCOL_VERSION, client_id: "page", width: 64, height: 32, container_width: 64, container_height: 32, decoders: ["jpeg", "png"], application: "test", user_agent: "node" }]);
  assert.equal(h.core.isConnected(), false);
  socket.text(ACCEPT);
  assert.equal(h.core.isConnected(), true);
  assert.deepEqual(h.sizes, [[64, 32]]);
  assert.equal(h.events[0][0], "connected");
  assert.equal(h.events[0][1].streamingMode, "image");
  assert.deepEqual(h.events[1], ["accepted-hook"], "the hook runs after the listeners heard of the connection");
  assert.equal(h.core.accepted.connectionId, "c1");
});

test("every frame goes to the display and is acknowledged once it is done, shown or dropped", async () => {
  const h = await connected();
  const socket = h.sockets[0];
  const decoded = [];
  const received = [];
  h.core.listeners.decodedFrame.add((frame) => decoded.push(frame));
  h.core.listeners.receivedFrame.add((frame) => received.push(frame.id));
  const seq = (h.core.sendInput({ type: "mouse", action: "move", x: 1, y: 1, button: 0, buttons: 0, mods: 0 }), socket.sent.at(-1).seq);
  assert.equal(seq, 1);
  socket.binary(frameBytes(5, { inputSeq: seq }));
  socket.binary(frameBytes(6));
  assert.deepEqual(received, [5, 6]);
  const [first, second] = h.displays[0].frames;
  assert.equal(first.id, 5);
  h.advance(12);
  h.displays[0].hooks.done(first, { shown: true, decodeMs: 4 });
  h.displays[0].hooks.done(second, { shown: false, decodeMs: 0 });
  const acks = socket.sent.filter((m) => m.type === "ack");
  assert.deepEqual(acks, [{ type: "ack", frame: 5, decode_ms: 4 }, { type: "ack", frame: 6, decode_ms: 0 }]);
  assert.equal(decoded.length, 1);
  assert.equal(decoded[0].inputLatencyMs, 12);
  const stats = h.core.stats();
  assert.equal(stats.framesReceived, 2);
  assert.equal(stats.framesPainted, 1);
  assert.equal(stats.framesDropped, 1);
});

test("pings are answered, video streams configure the display, app messages reach their listeners", async () => {
  const h = await connected();
  const socket = h.sockets[0];
  const messages = [];
  h.core.listeners.receivedMessage.add((message) => messages.push(message));
  socket.text({ type: "ping", t: 42.5 });
  assert.deepEqual(socket.sent.at(-1), { type: "pong", t: 42.5 });
  socket.text({ type: "stream", codec: "h264", codec_string: "avc1.42E01F", width: 64, height: 32 });
  assert.deepEqual(h.displays[0].streams, [{ codecString: "avc1.42E01F", width: 64, height: 32 }]);
  socket.text({ type: "message", text: "hi" });
  socket.binary(new Uint8Array([2, 7, 8]));
  assert.deepEqual(messages, ["hi", new Uint8Array([7, 8])]);
  h.displays[0].hooks.requestKeyFrame();
  assert.deepEqual(socket.sent.at(-1), { type: "keyframe" });
});

test("a malformed message is reported and skipped; the connection goes on", async () => {
  const h = await connected();
  const warnings = [];
  const warn = console.warn;
  console.warn = (...args) => warnings.push(args.join(" "));
  try {
    h.sockets[0].onmessage({ data: "not json" });
    h.sockets[0].binary(new Uint8Array([77]));
  } finally {
    console.warn = warn;
  }
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /malformed/);
  h.sockets[0].text({ type: "ping", t: 1 });
  assert.deepEqual(h.sockets[0].sent.at(-1), { type: "pong", t: 1 });
});

test("a refusal is told with its reason and not retried; a network failure is retried", async () => {
  const refused = await connected({ reconnect: true });
  refused.sockets[0].text({ type: "disconnect", reason: "REFUSED", detail: "no" });
  refused.sockets[0].drop(4002);
  assert.deepEqual(refused.events.at(-1), ["disconnected", "REFUSED", "no"]);
  assert.equal(refused.displays[0].closed, true);
  assert.equal(refused.timers.length, 0);

  const dropped = await connected({ reconnect: { baseMs: 10, maxMs: 10 } });
  dropped.sockets[0].drop(1006);
  assert.equal(dropped.events.at(-2)[1], "NETWORKFAILURE");
  assert.equal(dropped.events.at(-1)[0], "reconnecting");
  assert.equal(dropped.timers.length, 1);
  dropped.timers[0].callback();
  assert.equal(dropped.sockets.length, 2, "a new socket to the same URL");
  assert.equal(dropped.sockets[1].url, "ws://service/A");
});

test("disconnect() closes the socket, tells DISPOSED, and a late close of the old socket is ignored", async () => {
  const h = await connected({ reconnect: true });
  const socket = h.sockets[0];
  h.core.disconnect();
  assert.equal(socket.closedWith, 1000);
  assert.deepEqual(h.events.at(-1), ["disconnected", "DISPOSED", "disconnect() was called"]);
  const count = h.events.length;
  socket.drop(1000);
  assert.equal(h.events.length, count);
  assert.equal(h.timers.length, 0);
  assert.equal(h.core.isConnected(), false);
});

test("a socket that never opened says the service was not reached", () => {
  const h = harness();
  h.core.connectTo("ws://nowhere/A");
  h.sockets[0].drop(1006);
  assert.match(h.events.at(-1)[2], /could not reach ws:\/\/nowhere\/A/);
});

test("the frame display sends images to its image queue and video to its decoder", async () => {
  const painted = [];
  const done = [];
  const decoded = [];
  const create = frameDisplay({
    decodeImage: async (frame) => ({ close() {}, id: frame.id }),
    createVideoDecoder: ({ output }) => ({
      configure() {},
      decode: (frame) => { decoded.push(frame.id); output({ timestamp: frame.id, close() {} }); },
      close() {},
    }),
    paint: (picture, frame) => painted.push(`${frame.codec}:${frame.id}`),
    now: () => 0,
  });
  const display = create({ done: (frame, outcome) => done.push([frame.id, outcome.shown]), requestKeyFrame: () => {} });
  display.push({ id: 1, codec: "jpeg", key: true });
  await tick();
  display.configure({ codecString: "avc1.42E01F", width: 64, height: 32 });
  display.push({ id: 2, codec: "h264", key: true });
  assert.deepEqual(decoded, [2]);
  assert.deepEqual(painted, ["jpeg:1", "h264:2"]);
  assert.deepEqual(done, [[1, true], [2, true]]);
  display.close();
  display.push({ id: 3, codec: "jpeg", key: true });
  await tick();
  assert.deepEqual(done.length, 2, "nothing after close");
});
