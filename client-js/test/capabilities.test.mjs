import { test } from "node:test";
import assert from "node:assert/strict";
import { IMAGE_DECODERS, VIDEO_PROBES, pageClientId, probeDecoders } from "../src/capabilities.js";

test("without WebCodecs, the page decodes JPEG and PNG", async () => {
  assert.deepEqual(await probeDecoders(undefined), ["jpeg", "png"]);
  assert.deepEqual(IMAGE_DECODERS, ["jpeg", "png"]);
});

test("video codecs are offered when VideoDecoder.isConfigSupported says so", async () => {
  const asked = [];
  const decoder = {
    isConfigSupported: async (config) => {
      asked.push(config);
      return { supported: config.codec !== VIDEO_PROBES.vp9 };
    },
  };
  assert.deepEqual(await probeDecoders(decoder), ["jpeg", "png", "h264", "av1"]);
  assert.deepEqual(asked.map((c) => c.codec).sort(), Object.values(VIDEO_PROBES).sort());
  assert.ok(asked.every((c) => c.optimizeForLatency === true));
});

test("a probe that throws, rejects or hangs past the timeout counts as unsupported", async () => {
  const decoder = {
    isConfigSupported: (config) => {
      if (config.codec === VIDEO_PROBES.h264) throw new TypeError("invalid");
      if (config.codec === VIDEO_PROBES.vp9) return Promise.reject(new Error("no"));
      return new Promise(() => {});
    },
  };
  const started = Date.now();
  assert.deepEqual(await probeDecoders(decoder, 50), ["jpeg", "png"]);
  assert.ok(Date.now() - started < 1000);
});

test("the page's client id is made once and shared", () => {
  const id = pageClientId();
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(pageClientId(), id);
  assert.equal(globalThis[Symbol.for("remoteviz.clientId")], id, "kept where a second copy of the module finds it");
});
