/**
 * A dedicated worker that decodes a render area's video off the page's main thread: WebCodecs'
 * `VideoDecoder` here, and the conversion of each decoded `VideoFrame` (YUV) into an RGB
 * `ImageBitmap`, which is transferred back for the page to paint (a copy, not a conversion).
 *
 * Messages in: `{type: "configure", generation, config}` starts a decoder (closing the one
 * before), `{type: "decode", generation, id, key, payload}` (an ArrayBuffer) decodes one frame,
 * `{type: "close", generation}` closes that decoder. Messages out: `{type: "output", generation,
 * id, bitmap}`, `{type: "error", generation, message}`, and `{type: "unusable", generation}` when
 * this browser has no WebCodecs in workers. The generation names the decoder, so
 * that the page ignores what a replaced one still sends. Started by `worker-decoder.js`.
 * @module video-worker
 */

/** @type {VideoDecoder|null} */
let decoder = null;
let current = 0;

function fail(generation, error) {
  self.postMessage({ type: "error", generation, message: String(error?.message ?? error) });
}

async function convert(generation, frame) {
  try {
    const bitmap = await createImageBitmap(frame);
    self.postMessage({ type: "output", generation, id: frame.timestamp, bitmap }, [bitmap]);
  } catch (error) {
    fail(generation, error);
  } finally {
    frame.close();
  }
}

function close() {
  if (decoder && decoder.state !== "closed") decoder.close();
  decoder = null;
}

self.onmessage = ({ data }) => {
  const { type, generation } = data;
  if (type === "configure") {
    close();
    current = generation;
    if (typeof VideoDecoder === "undefined") {
      // No WebCodecs in workers here: the page decodes on its main thread instead.
      self.postMessage({ type: "unusable", generation });
      return;
    }
    try {
      decoder = new VideoDecoder({ output: (frame) => convert(generation, frame), error: (error) => fail(generation, error) });
      decoder.configure(data.config);
    } catch (error) {
      fail(generation, error);
    }
  } else if (generation !== current || !decoder) {
    // A message for a decoder that has been replaced or closed: nothing to do.
  } else if (type === "decode") {
    try {
      // The frame id rides in the timestamp: it comes back on the VideoFrame.
      decoder.decode(new EncodedVideoChunk({ type: data.key ? "key" : "delta", timestamp: data.id, data: data.payload }));
    } catch (error) {
      fail(generation, error);
    }
  } else if (type === "close") {
    close();
  }
};
