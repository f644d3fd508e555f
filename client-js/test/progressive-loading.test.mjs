// Progressive loading of client-side rendering: the page switches from the service's frames to its
// own drawing once it can picture the whole scene (every record at least as its coarse copy, a big
// point set by its first part), draws the coarse copy until the full detail is here, then swaps,
// and reports its progress until full detail. No DOM: the switch and the store, driven from Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { SceneStore } from "../src/scene-store.js";
import { ClientRendering, DrawnBy } from "../src/client-rendering.js";

import { tick, until } from "./until.mjs";

/** A buffer name (32 hex digits) and deflated bytes for it. */
function buffer(tag, length = 12) {
  return { name: tag.repeat(32).slice(0, 32), data: deflateSync(new Uint8Array(length).map((_, i) => (i * 13 + tag.charCodeAt(0)) % 256)) };
}

const FULL = { positions: buffer("a", 3000), normals: buffer("b", 1500), indices: buffer("c", 6000) };
const COARSE = { positions: buffer("d"), normals: buffer("e"), indices: buffer("f") };
const SMALL = { positions: buffer("1"), normals: buffer("2"), indices: buffer("3") };
const PART0 = { positions: buffer("4"), sizes: buffer("5") };
const PART1 = { positions: buffer("6"), sizes: buffer("7") };

const names = (set) => Object.fromEntries(Object.entries(set).map(([key, b]) => [key, b.name]));
const BIG = { id: "big", kind: "mesh", ...names(FULL), colors: null, count: 900, vertices: 500, quantization: { offset: [0, 0, 0], scale: [1, 1, 1] },
  coarse: { ...names(COARSE), colors: null, count: 30, vertices: 20, quantization: { offset: [1, 1, 1], scale: [2, 2, 2] }, index_type: "u16" } };
const LITTLE = { id: "small", kind: "mesh", ...names(SMALL), colors: null, count: 6, vertices: 4 };
const POINTS = [{ id: "p", kind: "points", ...names(PART0), part: 0, parts: 2 }, { id: "p.1", kind: "points", ...names(PART1), part: 1, parts: 2 }];
const ALL = [FULL, COARSE, SMALL, PART0, PART1].flatMap((set) => Object.values(set));

function scene(records) {
  const wanted = new Set(records.flatMap((r) => [r, r.coarse].filter(Boolean).flatMap((x) => [x.positions, x.normals, x.indices, x.sizes])));
  const sizes = Object.fromEntries(ALL.filter((b) => wanted.has(b.name)).map((b) => [b.name, b.data.length]));
  return { type: "scene", full: true, records, removed: [], buffers: sizes, camera: {}, background: null };
}

let chunkNumber = 0;
const chunk = (b) => ({ type: "scene_chunk", chunk: ++chunkNumber, buffer: b.name, offset: 0, total: b.data.length, payload: b.data });

function harness(inflate = undefined) {
  const events = [];
  const shown = [];
  const frames = [];
  const drawings = []; // per draw: what was drawn of each record, by its positions buffer
  const switcher = new ClientRendering({
    mode: "client",
    capabilities: () => ({ webgl2: true, software: false, memoryMb: 4096 }),
    createRenderer: () => Promise.resolve({ draw: (store) => drawings.push(store.drawn().map((r) => r.positions)), dispose() {} }),
    show: (drawnBy) => shown.push(drawnBy),
    send: () => true,
    notify: (event) => events.push(event),
    nextFrame: (callback) => setImmediate(callback),
    inflate,
  });
  const display = switcher.wrap({ push: (frame) => frames.push(frame.id), configure() {}, close() {} }, () => {});
  switcher.accepted();
  switcher.receive({ type: "render", mode: "client", reason: "asked" });
  return { switcher, display, events, shown, frames, drawings };
}

test("frames show until every record can be drawn; the coarse copy is drawn until the full detail arrives, then swapped", async () => {
  const h = harness();
  h.switcher.receive(scene([BIG, LITTLE]));
  h.switcher.receive(chunk(COARSE.positions));
  h.switcher.receive(chunk(COARSE.normals));
  h.switcher.receive(chunk(COARSE.indices));
  await until(() => h.switcher.store.drawable(BIG) !== null);
  await tick();
  assert.equal(h.switcher.drawnBy, DrawnBy.LOADING, "the small mesh is still missing: frames go on");
  h.display.push({ id: 1 });
  assert.deepEqual(h.frames, [1]);
  for (const b of Object.values(SMALL)) h.switcher.receive(chunk(b));
  await until(() => h.switcher.drawnBy === DrawnBy.CLIENT);
  assert.deepEqual(h.shown, [DrawnBy.CLIENT]);
  const switched = h.events.find(([name, detail]) => name === "renderMode" && detail.mode === "client");
  assert.match(switched[1].reason, /full detail follows/);
  assert.deepEqual(h.drawings.at(-1), [COARSE.positions.name, SMALL.positions.name], "the big mesh drawn as its coarse copy");
  const drawnCoarse = h.switcher.store.drawable(BIG);
  assert.deepEqual(drawnCoarse.quantization, BIG.coarse.quantization, "with the copy's own quantization");
  assert.equal(drawnCoarse.count, 30);
  assert.equal(drawnCoarse.coarse, undefined);
  h.display.push({ id: 2 });
  assert.deepEqual(h.frames, [1], "drawn client-side: frames are held");
  const before = h.events.filter(([name]) => name === "sceneProgress").length;
  h.switcher.receive(chunk(FULL.positions));
  h.switcher.receive(chunk(FULL.normals));
  await tick();
  assert.deepEqual(h.drawings.at(-1), [COARSE.positions.name, SMALL.positions.name], "half the full detail: still the copy");
  h.switcher.receive(chunk(FULL.indices));
  await until(() => h.drawings.at(-1)[0] === FULL.positions.name);
  const progress = h.events.filter(([name]) => name === "sceneProgress").map(([, p]) => p);
  assert.equal(progress.length, before + 4, "progress is reported while refining, chunk by chunk, then once drawn");
  assert.deepEqual(progress.at(-1), { ...progress.at(-2), complete: true }, "the last says the full detail is drawn");
  assert.equal(progress.at(-2).received, progress.at(-2).total);
  assert.ok(progress.at(-3).received < progress.at(-3).total);
  assert.ok(progress.slice(0, -1).every((p) => !p.complete));
  assert.equal(h.switcher.store.complete, true);
  // Full detail is drawn: no more progress for what follows.
  h.switcher.receive(chunk(FULL.indices));
  assert.equal(h.events.filter(([name]) => name === "sceneProgress").length, before + 4);
});

test("a big point set's first part pictures it: the page draws from there on", async () => {
  const h = harness();
  h.switcher.receive(scene(POINTS));
  h.switcher.receive(chunk(PART0.positions));
  h.switcher.receive(chunk(PART0.sizes));
  await until(() => h.switcher.drawnBy === DrawnBy.CLIENT);
  assert.deepEqual(h.drawings.at(-1), [PART0.positions.name]);
  h.switcher.receive(chunk(PART1.positions));
  h.switcher.receive(chunk(PART1.sizes));
  await until(() => h.drawings.at(-1).length === 2);
  assert.equal(h.switcher.store.complete, true);
});

test("the store names which copy of a record to draw, and keeps the coarse buffers while the record names them", async () => {
  const store = new SceneStore({ ack() {}, changed() {} });
  store.update(scene([BIG]));
  assert.equal(store.pictured, false);
  assert.equal(store.drawable(BIG), null);
  for (const b of Object.values(COARSE)) store.chunk(chunk(b));
  await until(() => store.pictured);
  assert.equal(store.drawable(BIG).positions, COARSE.positions.name);
  for (const b of Object.values(FULL)) store.chunk(chunk(b));
  await until(() => store.complete);
  assert.equal(store.drawable(BIG), BIG, "the full detail once here");
  assert.equal(store.buffers.size, 6);
  // A record without its copy any more: the page lets the copy's buffers go, as the service does.
  const { coarse: _, ...plain } = BIG;
  store.update({ type: "scene", full: false, records: [plain], removed: [], buffers: {} });
  assert.equal(store.buffers.size, 3);
});

test("a scene whose buffer fails to inflate is drawn with what arrived once nothing more is to come", async () => {
  const { inflateSync } = await import("node:zlib");
  let calls = 0;
  const h = harness(async (bytes) => {
    calls += 1;
    if (calls === 2) throw new Error("corrupt"); // the normals: buffers complete in the order sent
    return new Uint8Array(inflateSync(bytes));
  });
  h.switcher.receive(scene([LITTLE]));
  const warn = console.warn;
  console.warn = () => {};
  try {
    for (const b of Object.values(SMALL)) h.switcher.receive(chunk(b));
    await until(() => h.switcher.store.complete);
  } finally {
    console.warn = warn;
  }
  assert.equal(h.switcher.store.pictured, false, "the record lacks a buffer");
  await until(() => h.switcher.drawnBy === DrawnBy.CLIENT);
  assert.deepEqual(h.drawings.at(-1), [], "nothing drawable, and no frames to come: the page draws what it has");
});

test("a provisional record (a model's first page: the copy alone while the full detail is encoded) is drawn but not complete", async () => {
  const h = harness();
  const { coarse, ...rest } = BIG;
  const provisional = { ...rest, ...coarse, provisional: true };
  h.switcher.receive(scene([provisional]));
  for (const b of Object.values(COARSE)) h.switcher.receive(chunk(b));
  await until(() => h.switcher.drawnBy === DrawnBy.CLIENT);
  assert.deepEqual(h.drawings.at(-1), [COARSE.positions.name]);
  const switched = h.events.find(([name, detail]) => name === "renderMode" && detail.mode === "client");
  assert.match(switched[1].reason, /full detail follows/);
  assert.equal(h.switcher.store.complete, false, "every buffer named is here, yet the full detail is to come");
  await tick();
  assert.ok(h.events.every(([name, detail]) => name !== "sceneProgress" || !detail.complete));
  // The full detail encoded: the record with its own buffers, the copy as `coarse` (held: not sent again).
  const fullSizes = Object.fromEntries(Object.values(FULL).map((b) => [b.name, b.data.length]));
  h.switcher.receive({ type: "scene", full: false, records: [BIG], removed: [], buffers: fullSizes });
  await tick();
  assert.deepEqual(h.drawings.at(-1), [COARSE.positions.name], "still the copy, which the page kept");
  for (const b of Object.values(FULL)) h.switcher.receive(chunk(b));
  await until(() => h.switcher.store.complete);
  await until(() => h.drawings.at(-1)[0] === FULL.positions.name);
  await until(() => h.events.some(([name, detail]) => name === "sceneProgress" && detail.complete));
});
