import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { SCENE_CHUNK_HEADER_SIZE, cameraMessage, parseServiceBinary, renderMessage, sceneAckMessage } from "../src/protocol.js";
import { SceneStore, inflate } from "../src/scene-store.js";
import { CAMERA_INTERVAL_MS, ClientRendering, DrawnBy } from "../src/client-rendering.js";
import { clippingRange, invertAffine, multiply, planeInView, projectionMatrix, viewMatrix } from "../src/view-math.js";
import { webglCapabilities } from "../src/capabilities.js";

import { tick, until } from "./until.mjs";
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

/** A client-rendering switch wired to fakes; `hooks` adds or replaces some (a clock, say). */
function harness(mode = "auto", hooks = {}) {
  const sent = [];
  const events = [];
  const shown = [];
  const frames = [];
  const done = [];
  const drawn = [];
  const cameras = []; // the camera of each draw
  let renderer = null;
  const pending = [];
  const switcher = new ClientRendering({
    mode,
    capabilities: () => ({ webgl2: true, software: false, memoryMb: 4096 }),
    createRenderer: () => new Promise((resolve) => pending.push(() => {
      renderer = { draw: (store, camera) => drawn.push(store.records.size) && cameras.push(structuredClone(camera)), dispose: () => { renderer.disposed = true; }, disposed: false };
      resolve(renderer);
    })),
    show: (drawnBy) => shown.push(drawnBy),
    send: (message) => { sent.push(message); return true; },
    notify: (event) => events.push(event),
    nextFrame: (callback) => setImmediate(callback),
    ...hooks,
  });
  const display = switcher.wrap({ push: (frame) => frames.push(frame.id), configure() {}, close() {} }, (frame, outcome) => done.push([frame.id, outcome.shown]));
  return { switcher, display, sent, events, shown, frames, done, drawn, cameras, pending, renderer: () => renderer };
}

async function loadScene(h, extra = { camera: {} }) {
  const raw = new Uint8Array([1, 2, 3, 4]);
  const deflated = deflateSync(raw);
  h.switcher.receive({ type: "scene", seq: 1, full: true, records: [{ id: "r", kind: "points", positions: NAME }], removed: [], buffers: { [NAME]: deflated.length }, background: null, ...extra });
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
  const { type: _c, ...camera } = cameraMessage({ position: [0, 0, 1], orientation: [0, 0, 0, 1], focal_distance: 1, height: 1 }, 2);
  assert.deepEqual(Object.keys(camera).sort(), fields("camera"));
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

// ------------------------------------------------------------------------ navigation in the page

const IDENTITY = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
const HOME = { position: [0, 0, 5], orientation: [0, 0, 0, 1], focal_distance: 5, height: 0.785, orthographic: false, model: IDENTITY };
const mouse = (action, x, y, buttons = 1) => ({ type: "mouse", action, x, y, button: 0, buttons, mods: 0 });

/** A page drawing a loaded scene whose service says navigation is the page's, on a fake clock. */
async function navigating(navigation = "page") {
  const clock = { now: 0, timers: [] };
  const h = harness("client", {
    viewport: () => ({ width: 200, height: 100 }),
    now: () => clock.now,
    later: (callback, ms) => {
      const timer = { at: clock.now + ms, callback };
      clock.timers.push(timer);
      return () => { clock.timers = clock.timers.filter((t) => t !== timer); };
    },
  });
  h.switcher.accepted();
  h.switcher.receive({ type: "render", mode: "client", reason: "" });
  h.pending[0]();
  await loadScene(h, { camera: structuredClone(HOME), navigation });
  /** Moves the clock on, running the timers due. */
  h.advance = (ms) => {
    clock.now += ms;
    for (const timer of clock.timers.filter((t) => t.at <= clock.now)) {
      clock.timers = clock.timers.filter((t) => t !== timer);
      timer.callback();
    }
  };
  h.cameraMessages = () => h.sent.filter((m) => m.type === "camera");
  return h;
}

test("while the page draws, a drag moves its camera at once and the service gets it at most every CAMERA_INTERVAL_MS and before the release", async () => {
  const h = await navigating();
  assert.equal(h.switcher.navigating, true);
  assert.equal(h.switcher.input(mouse("down", 100, 50)), true, "a press goes to the service (listeners, picking)");
  const drawsBefore = h.drawn.length;
  const sentMoves = [];
  const steps = Math.floor(CAMERA_INTERVAL_MS / 10) + 2; // moves every 10 ms, a little over one interval
  for (let step = 1; step <= steps; step += 1) {
    h.advance(10);
    sentMoves.push(h.switcher.input(mouse("move", 100 + step * 5, 50)));
    await tick();
  }
  assert.deepEqual(sentMoves, new Array(steps).fill(false), "the drag's moves stay in the page");
  assert.ok(h.drawn.length > drawsBefore, "the page drew the moved camera");
  const last = h.cameras.at(-1);
  assert.ok(Math.abs(last.position[0]) > 0.5, `the orbit turned the camera around the focal point: ${last.position}`);
  assert.ok(Math.abs(Math.hypot(...last.position) - 5) < 1e-9, "at the focal distance from the focal point");
  // The first camera at once, the next one an interval later.
  assert.equal(h.cameraMessages().length, 2);
  assert.equal(h.cameraMessages()[0].seq, 1, "a camera names the last scene update the page had");
  h.advance(5);
  h.switcher.input(mouse("move", 200, 50));
  await tick();
  assert.equal(h.cameraMessages().length, 2, "within an interval of the last, the camera waits");
  assert.equal(h.switcher.input(mouse("up", 200, 50, 0)), true, "a release goes to the service");
  assert.equal(h.sent.at(-1).type, "camera", "after the camera it should see");
  assert.deepEqual(h.sent.at(-1).position, h.cameras.at(-1).position, "the camera the page shows");
  h.advance(500);
  assert.equal(h.cameraMessages().length, 3, "nothing is left to send once the release flushed it");
});

test("the wheel zooms in the page; keys, touch and hover moves go to the service after the camera", async () => {
  const h = await navigating();
  assert.equal(h.switcher.input({ type: "wheel", x: 10, y: 10, delta: 3, mods: 0 }), false);
  await tick();
  assert.ok(Math.abs(h.cameras.at(-1).position[2] - 5 * 1.1 ** 3) < 1e-9, "three lines out, as the service's wheel");
  assert.equal(h.cameraMessages().length, 1);
  h.advance(20);
  h.switcher.input({ type: "wheel", x: 10, y: 10, delta: -1, mods: 0 });
  assert.equal(h.cameraMessages().length, 1, "paced");
  assert.equal(h.switcher.input({ type: "key", action: "down", key: "Home", x: 0, y: 0, mods: 0 }), true, "Home is the service's (its home view)");
  assert.equal(h.cameraMessages().length, 2, "the camera went first");
  assert.equal(h.switcher.input(mouse("move", 20, 20, 0)), true, "a hover move is the service's");
  assert.equal(h.switcher.input({ type: "touch", action: "move", id: 1, x: 5, y: 5 }), true, "touch is the service's");
  h.switcher.flushCamera();
  assert.equal(h.cameraMessages().length, 2, "nothing unsent, nothing sent");
});

test("a camera the service sends replaces the page's, even mid-drag, and later cameras name its update", async () => {
  const h = await navigating();
  h.switcher.input(mouse("down", 100, 50));
  h.switcher.input(mouse("move", 120, 50));
  h.advance(10);
  h.switcher.input(mouse("move", 140, 50)); // unsent: within an interval
  const viewAll = { ...structuredClone(HOME), position: [0, 0, 9], focal_distance: 9 };
  h.switcher.receive({ type: "scene", seq: 7, full: false, records: [], removed: [], buffers: {}, camera: viewAll, navigation: "page", background: null });
  await tick();
  assert.deepEqual(h.cameras.at(-1).position, [0, 0, 9], "the service's camera is drawn");
  h.advance(200);
  assert.equal(h.cameraMessages().length, 1, "the page's unsent camera was dropped for the service's");
  h.switcher.input(mouse("move", 150, 50));
  const moved = h.cameraMessages().at(-1);
  assert.equal(moved.seq, 7);
  assert.ok(Math.abs(Math.hypot(...moved.position) - 9) < 1e-9, "the drag goes on from the service's camera");
  // An update without a camera (a colour changed) leaves the page's camera as it is.
  await tick();
  const before = h.cameras.at(-1);
  h.switcher.receive({ type: "scene", seq: 8, full: false, records: [], removed: [], buffers: {}, navigation: "page", background: null });
  await tick();
  assert.deepEqual(h.cameras.at(-1), before);
  assert.ok(Math.abs(Math.hypot(...before.position) - 9) < 1e-9);
});

test("in selection mode, while loading or while a render request is unanswered, every input goes to the service", async () => {
  const h = await navigating("service");
  assert.equal(h.switcher.navigating, false);
  h.switcher.input(mouse("down", 100, 50));
  assert.equal(h.switcher.input(mouse("move", 150, 50)), true);
  assert.equal(h.switcher.input({ type: "wheel", x: 1, y: 1, delta: 1, mods: 0 }), true);
  h.switcher.receive({ type: "scene", seq: 2, full: false, records: [], removed: [], buffers: {}, navigation: "page", background: null });
  assert.equal(h.switcher.navigating, true, "the service's examiner went back to navigation");
  // The page's examiner did not see this drag begin: it takes the next move as its start.
  assert.equal(h.switcher.input(mouse("move", 160, 50)), true);
  assert.equal(h.switcher.input(mouse("move", 165, 50)), false);
  assert.equal(h.cameraMessages().length, 1);
  h.advance(10);
  h.switcher.input(mouse("move", 170, 50));
  // Asking again: the service may answer "server" and stop the stream, so no camera meanwhile.
  h.switcher.request("auto", true);
  assert.equal(h.sent.at(-2).type, "camera", "the unsent camera went before the request");
  assert.equal(h.sent.at(-1).type, "render");
  assert.equal(h.switcher.navigating, false);
  assert.equal(h.switcher.input(mouse("move", 180, 50)), true);
  h.switcher.receive({ type: "render", mode: "client", reason: "again" });
  assert.equal(h.switcher.navigating, true);
  // Back to frames: the page's camera first, then no more cameras.
  h.switcher.input(mouse("move", 190, 50));
  h.advance(10);
  h.switcher.input(mouse("move", 200, 50));
  h.switcher.request("server", true);
  assert.deepEqual(h.sent.slice(-2).map((m) => m.type), ["camera", "render"]);
  assert.equal(h.switcher.input(mouse("move", 210, 50)), true);
  h.advance(500);
  assert.equal(h.sent.at(-1).type, "render");
});

test("the page's navigation keeps its camera within what the service takes: a zoom past 1e15 is not made", async () => {
  const h = await navigating();
  for (let turn = 0; turn < 400; turn += 1) {
    h.advance(200);
    h.switcher.input({ type: "wheel", x: 10, y: 10, delta: 1, mods: 0 });
  }
  const cameras = h.cameraMessages();
  assert.ok(cameras.length > 300);
  assert.ok(cameras.every((c) => c.focal_distance <= 1e15 && c.position.every((v) => Math.abs(v) <= 1e15)));
  assert.ok(cameras.at(-1).focal_distance > 1e14, "zoomed out as far as it may");
  h.switcher.input({ type: "wheel", x: 10, y: 10, delta: -3, mods: 0 });
  h.advance(200);
  assert.ok(h.cameraMessages().at(-1).focal_distance < cameras.at(-1).focal_distance, "and back in");
});
