import { test } from "node:test";
import assert from "node:assert/strict";
import { ImageFrameQueue, MAX_DECODER_FAILURES, VideoStream } from "../src/frames.js";

const frame = (id, extra = {}) => ({ type: "frame", id, codec: "jpeg", key: true, ...extra });
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A picture that records whether it was released. */
function picture(id) {
  return { id, timestamp: id, closed: false, close() { this.closed = true; } };
}

/** Records what a pipeline reports, and fails on a frame reported twice. */
function recorder() {
  const done = new Map();
  const painted = [];
  return {
    done,
    painted,
    paint: (pic, f) => painted.push(f.id),
    onDone: (f, outcome) => {
      assert.ok(!done.has(f.id), `frame ${f.id} reported twice`);
      done.set(f.id, outcome);
    },
  };
}

/** An image decoder whose decodes finish when the test says. */
function manualDecoder() {
  const calls = [];
  let active = 0;
  let maxActive = 0;
  return {
    calls,
    get maxActive() { return maxActive; },
    decode: (f) => new Promise((resolve, reject) => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      calls.push({ id: f.id, resolve: (p) => { active -= 1; resolve(p); }, reject: (e) => { active -= 1; reject(e); } });
    }),
  };
}

test("image frames are decoded, painted, released and reported in turn", async () => {
  const rec = recorder();
  const decoder = manualDecoder();
  let clock = 0;
  const queue = new ImageFrameQueue({ decode: decoder.decode, paint: rec.paint, done: rec.onDone, now: () => clock });
  queue.push(frame(1));
  clock = 7;
  const pic = picture(1);
  decoder.calls[0].resolve(pic);
  await tick();
  assert.deepEqual(rec.painted, [1]);
  assert.deepEqual(rec.done.get(1), { shown: true, decodeMs: 7 });
  assert.equal(pic.closed, true);
  queue.push(frame(2));
  decoder.calls[1].resolve(picture(2));
  await tick();
  assert.deepEqual(rec.painted, [1, 2]);
});

test("one image decode at a time: a newer frame replaces the waiting one, which is reported dropped at once", async () => {
  const rec = recorder();
  const decoder = manualDecoder();
  const queue = new ImageFrameQueue({ decode: decoder.decode, paint: rec.paint, done: rec.onDone, now: () => 0 });
  queue.push(frame(1));
  queue.push(frame(2));
  assert.equal(rec.done.size, 0, "the waiting frame is not dropped before a newer one comes");
  queue.push(frame(3));
  assert.deepEqual(rec.done.get(2), { shown: false, decodeMs: 0 });
  queue.push(frame(4));
  assert.equal(rec.done.get(3).shown, false);
  assert.equal(decoder.calls.length, 1);
  decoder.calls[0].resolve(picture(1));
  await tick();
  assert.equal(decoder.calls.length, 2);
  assert.equal(decoder.calls[1].id, 4, "the newest frame is decoded next");
  decoder.calls[1].resolve(picture(4));
  await tick();
  assert.deepEqual(rec.painted, [1, 4]);
  assert.deepEqual([...rec.done.keys()].sort(), [1, 2, 3, 4]);
  assert.equal(decoder.maxActive, 1);
});

test("an image that fails to decode is still reported, and the next one goes on", async () => {
  const rec = recorder();
  const decoder = manualDecoder();
  const queue = new ImageFrameQueue({ decode: decoder.decode, paint: rec.paint, done: rec.onDone, now: () => 0 });
  queue.push(frame(1));
  queue.push(frame(2));
  const error = new Error("corrupt");
  decoder.calls[0].reject(error);
  await tick();
  assert.deepEqual(rec.done.get(1), { shown: false, decodeMs: 0, error });
  decoder.calls[1].resolve(picture(2));
  await tick();
  assert.equal(rec.done.get(2).shown, true);
});

test("a paint that throws still releases the picture and reports the frame", async () => {
  const rec = recorder();
  const decoder = manualDecoder();
  const queue = new ImageFrameQueue({ decode: decoder.decode, paint: () => { throw new Error("context lost"); }, done: rec.onDone, now: () => 0 });
  queue.push(frame(1));
  const pic = picture(1);
  decoder.calls[0].resolve(pic);
  await tick();
  assert.equal(pic.closed, true);
  assert.equal(rec.done.get(1).shown, false);
  assert.match(rec.done.get(1).error.message, /context lost/);
});

test("after close, a decode that finishes is released and nothing more is reported", async () => {
  const rec = recorder();
  const decoder = manualDecoder();
  const queue = new ImageFrameQueue({ decode: decoder.decode, paint: rec.paint, done: rec.onDone, now: () => 0 });
  queue.push(frame(1));
  queue.push(frame(2));
  queue.close();
  const pic = picture(1);
  decoder.calls[0].resolve(pic);
  await tick();
  queue.push(frame(3));
  assert.equal(pic.closed, true);
  assert.equal(rec.done.size, 0);
  assert.equal(decoder.calls.length, 1);
});

/** A WebCodecs-like decoder driven by the test. */
class FakeVideoDecoder {
  static made = [];
  constructor({ output, error }) {
    this.output = output;
    this.error = error;
    this.fed = [];
    this.closed = false;
    FakeVideoDecoder.made.push(this);
  }
  configure(config) {
    if (config.codec === "unsupported") throw new TypeError("bad codec string");
    this.config = config;
  }
  decode(f) {
    this.fed.push(f.id);
  }
  close() {
    this.closed = true;
  }
  /** Emits the picture of the oldest fed frame not yet emitted (or of a given id). */
  emit(id = this.fed.shift()) {
    const pic = picture(id);
    this.output(pic);
    return pic;
  }
}

function videoStream(rec, overrides = {}) {
  FakeVideoDecoder.made = [];
  const keyRequests = [];
  const errors = [];
  const stream = new VideoStream({
    createDecoder: (callbacks) => new FakeVideoDecoder(callbacks),
    paint: rec.paint,
    done: rec.onDone,
    requestKeyFrame: () => keyRequests.push(true),
    onError: (error) => errors.push(error),
    now: () => 0,
    ...overrides,
  });
  return { stream, keyRequests, errors };
}

const h264 = (id, key) => frame(id, { codec: "h264", key });

test("video frames before any stream message are dropped and reported", () => {
  const rec = recorder();
  const { stream, keyRequests } = videoStream(rec);
  stream.push(h264(1, true));
  assert.equal(rec.done.get(1).shown, false);
  assert.equal(FakeVideoDecoder.made.length, 0);
  assert.equal(keyRequests.length, 0);
});

test("a configured stream decodes in order, H.264 as Annex B with low latency, and paints each picture", () => {
  const rec = recorder();
  const { stream } = videoStream(rec);
  stream.configure({ codecString: "avc1.42E01F", width: 640, height: 480 });
  stream.push(h264(1, true));
  stream.push(h264(2, false));
  stream.push(h264(3, false));
  const [decoder] = FakeVideoDecoder.made;
  assert.deepEqual(decoder.config, { codec: "avc1.42E01F", codedWidth: 640, codedHeight: 480, optimizeForLatency: true });
  assert.equal("description" in decoder.config, false);
  assert.deepEqual(decoder.fed, [1, 2, 3]);
  const pictures = [decoder.emit(), decoder.emit(), decoder.emit()];
  assert.deepEqual(rec.painted, [1, 2, 3]);
  assert.ok(pictures.every((p) => p.closed), "every VideoFrame is closed");
  assert.ok([1, 2, 3].every((id) => rec.done.get(id).shown));
});

test("delta frames without a key frame before them are dropped and ask for one key frame", () => {
  const rec = recorder();
  const { stream, keyRequests } = videoStream(rec);
  stream.configure({ codecString: "avc1.42E01F", width: 64, height: 64 });
  stream.push(h264(1, false));
  stream.push(h264(2, false));
  assert.equal(keyRequests.length, 1, "asked once, not once per frame");
  assert.equal(rec.done.get(1).shown, false);
  assert.equal(rec.done.get(2).shown, false);
  stream.push(h264(3, true));
  stream.push(h264(4, false));
  assert.deepEqual(FakeVideoDecoder.made[0].fed, [3, 4]);
});

test("a decoder error drops what it held, asks for a key frame and restarts at the next one", () => {
  const rec = recorder();
  const { stream, keyRequests, errors } = videoStream(rec);
  stream.configure({ codecString: "avc1.42E01F", width: 64, height: 64 });
  stream.push(h264(1, true));
  stream.push(h264(2, false));
  const first = FakeVideoDecoder.made[0];
  first.error(new Error("decode failed"));
  assert.equal(errors.length, 1);
  assert.equal(first.closed, true);
  assert.equal(keyRequests.length, 1);
  assert.equal(rec.done.get(1).shown, false);
  assert.equal(rec.done.get(2).shown, false);
  stream.push(h264(3, false));
  assert.equal(rec.done.get(3).shown, false, "a delta cannot restart the decoder");
  stream.push(h264(4, true));
  const second = FakeVideoDecoder.made[1];
  assert.deepEqual(second.fed, [4]);
  // A late picture of the failed decoder is released, not painted.
  const late = picture(2);
  first.output(late);
  assert.equal(late.closed, true);
  second.emit();
  assert.deepEqual(rec.painted, [4]);
});

test("frames the decoder skips are reported when a later picture comes out", () => {
  const rec = recorder();
  const { stream } = videoStream(rec);
  stream.configure({ codecString: "vp09.00.10.08", width: 64, height: 64 });
  for (const [id, key] of [[1, true], [2, false], [3, false]]) stream.push(frame(id, { codec: "vp9", key }));
  FakeVideoDecoder.made[0].emit(3);
  assert.deepEqual(rec.painted, [3]);
  assert.equal(rec.done.get(1).shown, false);
  assert.equal(rec.done.get(2).shown, false);
  assert.equal(rec.done.get(3).shown, true);
});

test("a codec that keeps failing is given up after a few tries instead of asking for key frames forever", () => {
  const rec = recorder();
  const { stream, keyRequests, errors } = videoStream(rec);
  stream.configure({ codecString: "unsupported", width: 64, height: 64 });
  for (let id = 1; id <= MAX_DECODER_FAILURES + 3; id += 1) stream.push(h264(id, true));
  assert.equal(errors.length, MAX_DECODER_FAILURES);
  assert.equal(keyRequests.length, MAX_DECODER_FAILURES - 1);
  assert.equal(rec.done.size, MAX_DECODER_FAILURES + 3, "every frame is still reported");
  stream.configure({ codecString: "avc1.42E01F", width: 64, height: 64 });
  stream.push(h264(100, true));
  assert.deepEqual(FakeVideoDecoder.made.at(-1).fed, [100], "a new stream message starts afresh");
});

test("a decoder that cannot even be made drops frames instead of stalling", () => {
  const rec = recorder();
  const { stream, errors } = videoStream(rec, { createDecoder: () => { throw new ReferenceError("VideoDecoder is not defined"); } });
  stream.configure({ codecString: "avc1.42E01F", width: 64, height: 64 });
  stream.push(h264(1, true));
  assert.equal(rec.done.get(1).shown, false);
  assert.equal(errors.length, 1);
});

test("every video frame is reported exactly once whatever happens (seeded random run)", () => {
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const rec = recorder();
  const { stream } = videoStream(rec);
  stream.configure({ codecString: "avc1.42E01F", width: 64, height: 64 });
  let id = 0;
  for (let step = 0; step < 2000; step += 1) {
    const decoder = FakeVideoDecoder.made.at(-1);
    const roll = random();
    if (roll < 0.5) stream.push(h264(++id, random() < 0.1));
    else if (roll < 0.85 && decoder?.fed.length) decoder.emit();
    else if (roll < 0.9 && decoder && !decoder.closed) decoder.error(new Error("random"));
    else if (roll < 0.92) stream.configure({ codecString: "avc1.42E01F", width: 64, height: 64 });
  }
  // Let the live decoder drain: then nothing may be left unreported.
  const decoder = FakeVideoDecoder.made.at(-1);
  while (decoder && !decoder.closed && decoder.fed.length) decoder.emit();
  assert.equal(rec.done.size, id);
});

test("the service's stream message answering a key frame request does not restart the failure count", () => {
  const rec = recorder();
  const { stream, keyRequests } = videoStream(rec);
  // The service answers every key frame request with the same stream message and a key frame.
  for (let id = 1; id <= MAX_DECODER_FAILURES + 3; id += 1) {
    stream.configure({ codecString: "unsupported", width: 64, height: 64 });
    stream.push(h264(id, true));
  }
  assert.equal(keyRequests.length, MAX_DECODER_FAILURES - 1, "the requests stop: no endless loop");
  assert.equal(rec.done.size, MAX_DECODER_FAILURES + 3);
});
