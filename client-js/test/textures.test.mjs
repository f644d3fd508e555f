import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { SceneStore, bufferNames } from "../src/scene-store.js";

import { until } from "./until.mjs";

const POSITIONS = "00000000000000000000000000000001";
const TEXCOORDS = "00000000000000000000000000000002";
const IMAGE = "00000000000000000000000000000003";

function deliver(store, name, raw) {
  const deflated = deflateSync(raw);
  store.chunk({ chunk: 1, buffer: name, offset: 0, total: deflated.length, payload: deflated });
  return deflated.length;
}

test("a textured mesh is drawn only once its coordinates and its image are here, and keeps the image while it names it", async () => {
  const store = new SceneStore({ ack: () => {}, changed: () => {} });
  const texture = { image: IMAGE, width: 2, height: 1, filter: "nearest" };
  const record = { id: "r", kind: "mesh", positions: POSITIONS, texcoords: TEXCOORDS, texture };
  assert.deepEqual(bufferNames(record), [POSITIONS, TEXCOORDS, IMAGE]);
  const raws = { [POSITIONS]: new Uint8Array(6), [TEXCOORDS]: new Uint8Array(8), [IMAGE]: new Uint8Array([255, 0, 0, 255, 0, 0, 255, 255]) };
  const sizes = Object.fromEntries(Object.entries(raws).map(([name, raw]) => [name, deflateSync(raw).length]));
  store.update({ full: true, records: [record], removed: [], buffers: sizes, camera: { height: 1 }, background: null });
  deliver(store, POSITIONS, raws[POSITIONS]);
  deliver(store, TEXCOORDS, raws[TEXCOORDS]);
  await until(() => store.buffers.has(TEXCOORDS));
  assert.equal(store.drawable(record), null, "not without its image");
  assert.equal(store.pictured, false);
  deliver(store, IMAGE, raws[IMAGE]);
  await until(() => store.buffers.has(IMAGE));
  assert.equal(store.drawable(record), record);
  assert.deepEqual([...store.buffers.get(IMAGE)], [...raws[IMAGE]]);
  // The same record without its texture lets the image and the coordinates go.
  store.update({ full: false, records: [{ id: "r", kind: "mesh", positions: POSITIONS }], removed: [], buffers: {} });
  assert.deepEqual([...store.buffers.keys()], [POSITIONS]);
});
