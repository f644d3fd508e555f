import { test } from "node:test";
import assert from "node:assert/strict";
import { VideoStream } from "../src/frames.js";
import { WorkerDecoders } from "../src/worker-decoder.js";

/** A worker that records what it is sent; the test plays its answers. */
function fakeWorker() {
  return {
    sent: [],
    terminated: false,
    onmessage: null,
    onerror: null,
    postMessage(message, transfer = []) { this.sent.push({ message, transfer }); },
    terminate() { this.terminated = true; },
    answer(data) { this.onmessage({ data }); },
  };
}

/** A picture as the worker sends it: an ImageBitmap stand-in that records being closed. */
function bitmap() {
  return { closed: false, close() { this.closed = true; } };
}

const h264 = { codecString: "avc1.42E01F", width: 64, height: 48 };
const videoFrame = (id, key) => ({ type: "frame", id, codec: "h264", key, payload: new Uint8Array([9, id, 7, 5]).subarray(1, 3) });

function stream(decoders) {
  const painted = [], done = [], keyRequests = [], errors = [];
  const video = new VideoStream({
    createDecoder: decoders.createDecoder,
    paint: (picture, frame) => painted.push([frame.id, picture]),
    done: (frame, outcome) => done.push([frame.id, outcome.shown]),
    requestKeyFrame: () => keyRequests.push(1),
    onError: (error) => errors.push(String(error)),
  });
  video.configure(h264);
  return { video, painted, done, keyRequests, errors };
}

test("frames are decoded in the worker, their payloads copied and transferred, and painted as they come back", () => {
  const worker = fakeWorker();
  const fallbacks = [];
  const decoders = new WorkerDecoders({ startWorker: () => worker, fallback: (c) => fallbacks.push(c) });
  const { video, painted, done } = stream(decoders);
  video.push(videoFrame(1, true));
  video.push(videoFrame(2, false));
  assert.equal(fallbacks.length, 0);
  const [configure, first, second] = worker.sent;
  assert.equal(configure.message.type, "configure");
  assert.equal(configure.message.config.codec, "avc1.42E01F");
  assert.deepEqual([first.message.type, first.message.id, first.message.key], ["decode", 1, true]);
  // Only the frame's own bytes, in a buffer of their own that is handed over.
  assert.deepEqual([...new Uint8Array(first.message.payload)], [1, 7]);
  assert.deepEqual(first.transfer, [first.message.payload]);
  assert.equal(second.message.generation, configure.message.generation);

  const picture = bitmap();
  worker.answer({ type: "output", generation: configure.message.generation, id: 1, bitmap: picture });
  assert.deepEqual(painted.map(([id]) => id), [1]);
  assert.equal(painted[0][1].timestamp, 1);
  assert.ok(picture.closed, "the picture is released once painted");
  assert.deepEqual(done, [[1, true]]);
  assert.equal(decoders.inWorker, true);
});

test("what a replaced decoder still sends is released, not painted", () => {
  const worker = fakeWorker();
  const decoders = new WorkerDecoders({ startWorker: () => worker, fallback: () => assert.fail("no fallback") });
  const { video, painted } = stream(decoders);
  video.push(videoFrame(1, true));
  const old = worker.sent[0].message.generation;
  video.configure({ ...h264, width: 128 });  // a new stream: a new decoder
  assert.equal(worker.sent.at(-1).message.type, "close");
  video.push(videoFrame(2, true));
  const fresh = worker.sent.at(-2).message;
  assert.equal(fresh.type, "configure");
  assert.notEqual(fresh.generation, old);
  const stale = bitmap();
  worker.answer({ type: "output", generation: old, id: 1, bitmap: stale });
  assert.ok(stale.closed);
  assert.equal(painted.length, 0);
  worker.answer({ type: "output", generation: fresh.generation, id: 2, bitmap: bitmap() });
  assert.deepEqual(painted.map(([id]) => id), [2]);
});

for (const [label, breakIt] of [
  ["the worker fails", (worker) => worker.onerror({ message: "SyntaxError", preventDefault() {} })],
  ["the worker has no WebCodecs", (worker) => worker.answer({ type: "unusable", generation: worker.sent[0].message.generation })],
]) {
  test(`when ${label}, the stream asks for a key frame and decodes on the main thread from then on`, () => {
    const worker = fakeWorker();
    const mainThread = [];
    const decoders = new WorkerDecoders({
      startWorker: () => worker,
      fallback: (callbacks) => {
        const decoder = { fed: [], configure() {}, decode(frame) { this.fed.push(frame.id); }, close() {}, callbacks };
        mainThread.push(decoder);
        return decoder;
      },
    });
    const { video, painted, done, keyRequests, errors } = stream(decoders);
    video.push(videoFrame(1, true));
    breakIt(worker);
    assert.ok(worker.terminated);
    assert.equal(decoders.inWorker, false);
    assert.equal(errors.length, 1);
    assert.deepEqual(keyRequests, [1]);
    assert.deepEqual(done, [[1, false]], "the frame in the worker is dropped (and acknowledged)");
    video.push(videoFrame(2, true));
    assert.equal(mainThread.length, 1);
    assert.deepEqual(mainThread[0].fed, [2]);
    mainThread[0].callbacks.output({ timestamp: 2, close() {} });
    assert.deepEqual(painted.map(([id]) => id), [2]);
  });
}

test("a worker that cannot be started leaves the main thread decoding", () => {
  const decoders = new WorkerDecoders({
    startWorker: () => { throw new Error("workers are forbidden here"); },
    fallback: () => ({ configure() {}, decode() {}, close() {} }),
  });
  const { video, errors } = stream(decoders);
  video.push(videoFrame(1, true));
  assert.equal(decoders.inWorker, false);
  assert.deepEqual(errors, []);
});
