import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { SCENE_CHUNK_HEADER_SIZE, parseServiceBinary, renderMessage, sceneAckMessage } from "../src/protocol.js";
import { SceneStore, inflate } from "../src/scene-store.js";
import { ClientRendering, DrawnBy } from "../src/client-rendering.js";
import { clippingRange, invertAffine, multiply, planeInView, projectionMatrix, viewMatrix } from "../src/view-math.js";
import { webglCapabilities } from "../src/capabilities.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
/** Waits until `condition()` holds (inflating goes through streams: a few turns of the event loop). */
async function until(condition, timeoutMs = 2000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await tick();
  }
}
const NAME = "00112233445566778899aabbccddeeff";

/** A scene chunk message as the service writes it (remoteviz/protocol.py encode_scene_chunk). */
function chunkBytes(chunk, name, offset, total, payload) {
  const bytes = new Uint8Array(SCENE_CHUNK_HEADER_SIZE + payload.length);
  const view = new DataView(bytes.buffer);
  bytes[0] = 3;
  view.setUint32(4, chunk, true);
  view.setUint32(8, offset, true);
  view.setUint32(12, total, true);
  for (let i = 0; i < 16; i += 1) bytes[16 + i] = parseInt(name.slice(2 * i, 2 * i + 2), 16);
  bytes.set(payload, SCENE_CHUNK_HEADER_SIZE);
  return bytes;
}

test("scene chunks parse with their buffer's name, and one past its end is refused", () => {
  const chunk = parseServiceBinary(chunkBytes(7, NAME, 2, 5, new Uint8Array([1, 2, 3])));
  assert.deepEqual({ ...chunk, payload: [...chunk.payload] }, { type: "scene_chunk", chunk: 7, buffer: NAME, offset: 2, total: 5, payload: [1, 2, 3] });
  assert.throws(() => parseServiceBinary(chunkBytes(7, NAME, 3, 5, new Uint8Array([1, 2, 3]))), /past its buffer/);
  assert.throws(() => parseServiceBinary(new Uint8Array([3, 0])), /header/);
});

test("render and scene_ack messages have the fields of docs/protocol.md", () => {
  assert.deepEqual(renderMessage("auto", { webgl2: true, software: false, memoryMb: 8192.4 }), { type: "render", mode: "auto", webgl2: true, software: false, memory_mb: 8192 });
  assert.deepEqual(sceneAckMessage(3), { type: "scene_ack", chunk: 3 });
  assert.throws(() => renderMessage("gpu", {}), /unknown render mode/);
});

test("a buffer in chunks out of order is put together, inflated, acknowledged chunk by chunk", async () => {
  const raw = new Uint8Array(5000).map((_, i) => (i * 7) % 251);
  const deflated = deflateSync(raw);
  const acks = [];
  let changes = 0;
  const store = new SceneStore({ ack: (chunk) => acks.push(chunk), changed: () => { changes += 1; } });
  const record = { id: "r", kind: "points", positions: NAME, sizes: null };
  store.update({ full: true, records: [record], removed: [], buffers: { [NAME]: deflated.length }, camera: { height: 1 }, background: null });
  assert.equal(store.complete, false);
  const half = Math.floor(deflated.length / 2);
  store.chunk({ chunk: 2, buffer: NAME, offset: half, total: deflated.length, payload: deflated.subarray(half) });
  assert.deepEqual(store.progress(), { received: deflated.length - half, total: deflated.length });
  store.chunk({ chunk: 1, buffer: NAME, offset: 0, total: deflated.length, payload: deflated.subarray(0, half) });
  assert.deepEqual(acks, [2, 1]);
  await until(() => store.buffers.has(NAME));
  assert.deepEqual([...store.buffers.get(NAME)], [...raw]);
  assert.equal(store.ready(record), true);
  assert.equal(store.complete, true);
  assert.ok(changes >= 2);
  // A delta that drops the record drops its buffer too, as the service does.
  store.update({ full: false, records: [], removed: ["r"], buffers: {} });
  assert.equal(store.buffers.size, 0);
  assert.equal(store.records.size, 0);
  assert.deepEqual(store.camera, { height: 1 }, "a delta without a camera keeps the camera");
});

test("inflate undoes zlib's deflate", async () => {
  const raw = new TextEncoder().encode("remoteviz ".repeat(100));
  assert.deepEqual(await inflate(deflateSync(raw)), raw);
});

/** A client-rendering switch wired to fakes. */
function harness(mode = "auto") {
  const sent = [];
  const events = [];
  const shown = [];
  const frames = [];
  const done = [];
  const drawn = [];
  let renderer = null;
  const pending = [];
  const switcher = new ClientRendering({
    mode,
    capabilities: () => ({ webgl2: true, software: false, memoryMb: 4096 }),
    createRenderer: () => new Promise((resolve) => pending.push(() => {
      renderer = { draw: (store) => drawn.push(store.records.size), dispose: () => { renderer.disposed = true; }, disposed: false };
      resolve(renderer);
    })),
    show: (drawnBy) => shown.push(drawnBy),
    send: (message) => { sent.push(message); return true; },
    notify: (event) => events.push(event),
    nextFrame: (callback) => setImmediate(callback),
  });
  const display = switcher.wrap({ push: (frame) => frames.push(frame.id), configure() {}, close() {} }, (frame, outcome) => done.push([frame.id, outcome.shown]));
  return { switcher, display, sent, events, shown, frames, done, drawn, pending, renderer: () => renderer };
}

async function loadScene(h) {
  const raw = new Uint8Array([1, 2, 3, 4]);
  const deflated = deflateSync(raw);
  h.switcher.receive({ type: "scene", full: true, records: [{ id: "r", kind: "points", positions: NAME }], removed: [], buffers: { [NAME]: deflated.length }, camera: {}, background: null });
  h.switcher.receive({ type: "scene_chunk", chunk: 1, buffer: NAME, offset: 0, total: deflated.length, payload: deflated });
  await until(() => h.switcher.drawnBy === DrawnBy.CLIENT);
}

test("the page asks the service once accepted, and keeps showing frames until the whole scene is drawn", async () => {
  const h = harness("auto");
  h.switcher.accepted();
  assert.deepEqual(h.sent, [{ type: "render", mode: "auto", webgl2: true, software: false, memory_mb: 4096 }]);
  h.switcher.receive({ type: "render", mode: "client", reason: "fits" });
  assert.equal(h.switcher.drawnBy, DrawnBy.LOADING);
  assert.deepEqual(h.events[0], ["renderMode", { mode: "loading", reason: "fits" }]);
  h.display.push({ id: 1 });
  assert.deepEqual(h.frames, [1], "frames show while the scene loads");
  h.pending[0]();
  await loadScene(h);
  assert.equal(h.switcher.drawnBy, DrawnBy.CLIENT);
  assert.deepEqual(h.shown, [DrawnBy.CLIENT]);
  const progress = h.events.filter(([name]) => name === "sceneProgress");
  assert.equal(progress.length, 2, "loading reports its progress chunk by chunk, then that the scene is drawn whole");
  assert.equal(progress[0][1].received, progress[0][1].total);
  assert.equal(progress[1][1].complete, true);
  assert.deepEqual(h.drawn.at(-1), 1);
  assert.deepEqual(h.sent.at(-1), { type: "scene_ack", chunk: 1 });
  // Drawn client-side: frames are held back, unacknowledged, so the service stops rendering.
  h.display.push({ id: 2 });
  h.display.push({ id: 3 });
  assert.deepEqual(h.frames, [1]);
  assert.deepEqual(h.done, []);
  // Back to frames: the held ones are acknowledged as dropped, and frames show again.
  h.switcher.request("server", true);
  assert.deepEqual(h.done, [[2, false], [3, false]]);
  assert.deepEqual(h.sent.at(-1), { type: "render", mode: "server", webgl2: false, software: false, memory_mb: 0 });
  assert.equal(h.renderer().disposed, true);
  assert.deepEqual(h.shown, [DrawnBy.CLIENT, DrawnBy.SERVER]);
  h.display.push({ id: 4 });
  assert.deepEqual(h.frames, [1, 4]);
});

test("a lost WebGL context or a renderer that fails falls back to frames and tells the service", async () => {
  const h = harness("client");
  h.switcher.accepted();
  h.switcher.receive({ type: "render", mode: "client", reason: "" });
  h.pending[0]();
  await loadScene(h);
  h.display.push({ id: 9 });
  const warn = console.warn;
  console.warn = () => {};
  try {
    h.switcher.contextLost();
  } finally {
    console.warn = warn;
  }
  assert.equal(h.switcher.drawnBy, DrawnBy.SERVER);
  assert.deepEqual(h.done, [[9, false]]);
  assert.equal(h.sent.at(-1).mode, "server");

  const failing = new ClientRendering({
    mode: "client", capabilities: () => ({ webgl2: true, software: false, memoryMb: 0 }),
    createRenderer: () => Promise.reject(new Error("no WebGL2")), show() {}, send: (m) => failing.sentLast = m, notify() {},
    nextFrame: (callback) => setImmediate(callback),
  });
  console.warn = () => {};
  try {
    failing.receive({ type: "render", mode: "client", reason: "" });
    await until(() => failing.drawnBy === DrawnBy.SERVER);
  } finally {
    console.warn = warn;
  }
  assert.equal(failing.drawnBy, DrawnBy.SERVER);
  assert.equal(failing.sentLast.mode, "server");
});

test("a page that asks for server frames sends nothing of client-side rendering", () => {
  const h = harness("server");
  h.switcher.accepted();
  assert.deepEqual(h.sent, []);
});

test("without WebGL2 the capabilities say so; a software renderer is named as such", () => {
  assert.deepEqual(webglCapabilities(() => null), { webgl2: false, software: false, memoryMb: 0, renderer: "" });
  const fakeGl = { getExtension: (name) => (name === "WEBGL_debug_renderer_info" ? { UNMASKED_RENDERER_WEBGL: 1 } : null), getParameter: () => "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device))", RENDERER: 2 };
  assert.equal(webglCapabilities(() => ({ getContext: () => fakeGl })).software, true);
});

test("the view matrix and planes match the service's arithmetic", () => {
  const identity = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  // The camera at (0, 0, 5) looking down -z: world z=0 is 5 in front.
  const view = viewMatrix({ position: [0, 0, 5], orientation: [0, 0, 0, 1], model: identity });
  assert.deepEqual(view.slice(12, 15).map((v) => v + 0), [0, 0, -5]);
  assert.deepEqual(multiply(view, invertAffine(view)).map((v) => Math.round(v * 1e9) / 1e9), identity);
  const [near, far] = clippingRange({ orthographic: false }, view, [[[-1, -1, -1], [1, 1, 1]]]);
  assert.ok(Math.abs(near - 4 * 0.98) < 1e-9 && Math.abs(far - 6 * 1.02) < 1e-9);
  const projection = projectionMatrix({ height: Math.PI / 2, orthographic: false }, 2, near, far);
  assert.ok(Math.abs(projection[0] - 0.5) < 1e-9 && Math.abs(projection[5] - 1) < 1e-9);
  // The world plane z >= 0 in view coordinates: z_view + 5 >= 0.
  assert.deepEqual(planeInView([0, 0, 1, 0], view).map((v) => Math.round(v * 1e9) / 1e9), [0, 0, 1, 5]);
});

test("render and scene_ack carry exactly the fields docs/protocol.md lists", async () => {
  const { existsSync, readFileSync } = await import("node:fs");
  const spec = new URL("../../docs/protocol.md", import.meta.url);
  if (!existsSync(spec)) return;
  const text = readFileSync(spec, "utf8");
  const section = text.slice(text.indexOf("## Client to service (text)"), text.indexOf("\n## ", text.indexOf("## Client to service (text)") + 1));
  const fields = (type) => {
    const line = section.split("\n").find((row) => row.startsWith(`| \`${type}\` |`));
    let column = line.split("|")[2];
    while (/\([^()]*\)/.test(column)) column = column.replace(/\([^()]*\)/g, "");
    return [...column.matchAll(/`(\w+)`/g)].map((match) => match[1]).sort();
  };
  const { type: _r, ...render } = renderMessage("client", { webgl2: true, software: false, memoryMb: 1 });
  assert.deepEqual(Object.keys(render).sort(), fields("render"));
  const { type: _a, ...ack } = sceneAckMessage(1);
  assert.deepEqual(Object.keys(ack).sort(), fields("scene_ack"));
});

test("asking again for what the page already does reports what draws now", async () => {
  const h = harness("client");
  h.switcher.accepted();
  h.switcher.receive({ type: "render", mode: "client", reason: "" });
  h.pending[0]();
  await loadScene(h);
  h.switcher.receive({ type: "render", mode: "client", reason: "again" });
  assert.deepEqual(h.events.at(-1), ["renderMode", { mode: "client", reason: "again" }]);
  assert.equal(h.switcher.drawnBy, DrawnBy.CLIENT);
});
