/**
 * From received frames to painted pictures, with the one rule flow control depends on: every
 * frame is reported done exactly once, painted or dropped, so that it is acknowledged and the
 * service's window of unacknowledged frames never stalls. The decoder, the painter and the clock
 * are handed in, so Node can drive both pipelines with fakes.
 * @module frames
 */

/**
 * How a frame ended.
 * @typedef {object} FrameOutcome
 * @property {boolean} shown true when the frame was painted
 * @property {number} decodeMs decode and paint time (0 for a frame dropped before decoding)
 * @property {unknown} [error] why it was not shown, when that was a failure
 */

/**
 * A decoded picture: an `ImageBitmap` or a `VideoFrame`. Its memory is released by `close()`.
 * @typedef {{close(): void}} Picture
 */

/**
 * @callback PaintFunction
 * @param {Picture} picture
 * @param {import("./protocol.js").Frame} frame
 * @returns {void}
 */

/**
 * @callback DoneFunction
 * @param {import("./protocol.js").Frame} frame
 * @param {FrameOutcome} outcome
 * @returns {void}
 */

const DROPPED = Object.freeze({ shown: false, decodeMs: 0 });

/**
 * Decodes image frames (JPEG, PNG) one at a time. A frame that arrives while another decodes
 * waits; a newer one replaces it, and the replaced one is dropped at once. Images do not depend
 * on each other, so the newest picture is all that matters.
 */
export class ImageFrameQueue {
  /**
   * @param {object} hooks
   * @param {(frame: import("./protocol.js").Frame) => Promise<Picture>} hooks.decode
   * @param {PaintFunction} hooks.paint
   * @param {DoneFunction} hooks.done
   * @param {() => number} [hooks.now] milliseconds
   */
  constructor({ decode, paint, done, now = () => performance.now() }) {
    this._decode = decode;
    this._paint = paint;
    this._done = done;
    this._now = now;
    this._busy = false;
    this._waiting = null;
    this._closed = false;
  }

  /**
   * Takes a received frame.
   * @param {import("./protocol.js").Frame} frame
   */
  push(frame) {
    if (this._closed) return;
    if (!this._busy) {
      this._run(frame);
      return;
    }
    if (this._waiting) this._done(this._waiting, DROPPED);
    this._waiting = frame;
  }

  /** Stops: nothing is painted or reported after this (the connection that would carry the acks is gone). */
  close() {
    this._closed = true;
    this._waiting = null;
  }

  async _run(frame) {
    this._busy = true;
    const start = this._now();
    let outcome;
    try {
      const picture = await this._decode(frame);
      if (this._closed) {
        picture.close();
        return;
      }
      try {
        this._paint(picture, frame);
      } finally {
        picture.close();
      }
      outcome = { shown: true, decodeMs: this._now() - start };
    } catch (error) {
      if (this._closed) return;
      outcome = { shown: false, decodeMs: this._now() - start, error };
    }
    this._done(frame, outcome);
    this._busy = false;
    const next = this._waiting;
    this._waiting = null;
    if (next) this._run(next);
  }
}

/**
 * What {@link VideoStream} needs of a decoder: WebCodecs' `VideoDecoder`, narrowed to frames.
 * @typedef {object} FrameDecoder
 * @property {(config: object) => void} configure
 * @property {(frame: import("./protocol.js").Frame) => void} decode decodes one frame; its
 *   picture comes out with `timestamp` = the frame id
 * @property {() => void} close
 */

/**
 * Makes a WebCodecs decoder that takes frames.
 * @param {{output: (frame: VideoFrame) => void, error: (error: DOMException) => void}} callbacks
 * @returns {FrameDecoder}
 */
export function createWebCodecsDecoder(callbacks) {
  const decoder = new VideoDecoder(callbacks);
  return {
    configure: (config) => decoder.configure(config),
    // The frame id rides in the timestamp: it comes back on the VideoFrame and names the frame to acknowledge.
    decode: (frame) => decoder.decode(new EncodedVideoChunk({ type: frame.key ? "key" : "delta", timestamp: frame.id, data: frame.payload })),
    close: () => {
      if (decoder.state !== "closed") decoder.close();
    },
  };
}

/**
 * Consecutive decoder failures, without a picture in between, after which the stream gives up
 * instead of asking for yet another key frame: a codec the browser claims but cannot decode
 * would otherwise make the service encode key frames forever.
 */
export const MAX_DECODER_FAILURES = 3;

/**
 * A video stream (H.264, VP9, AV1) through a WebCodecs decoder. Every frame is fed in order,
 * since each depends on the ones before; a delta frame with no key frame before it, or a decoder
 * error, drops what cannot be decoded and asks for a key frame.
 */
export class VideoStream {
  /**
   * @param {object} hooks
   * @param {(callbacks: {output: (picture: Picture & {timestamp: number}) => void, error: (error: unknown) => void}) => FrameDecoder} hooks.createDecoder
   * @param {PaintFunction} hooks.paint
   * @param {DoneFunction} hooks.done
   * @param {() => void} hooks.requestKeyFrame sends `keyframe` to the service
   * @param {(error: unknown) => void} hooks.onError told of each decoder failure
   * @param {() => number} [hooks.now] milliseconds
   */
  constructor({ createDecoder, paint, done, requestKeyFrame, onError, now = () => performance.now() }) {
    this._createDecoder = createDecoder;
    this._paint = paint;
    this._done = done;
    this._requestKeyFrame = requestKeyFrame;
    this._onError = onError;
    this._now = now;
    this._config = null;
    /** @type {FrameDecoder|null} */
    this._decoder = null;
    /** @type {Array<{frame: import("./protocol.js").Frame, start: number}>} fed, not yet out, in order */
    this._pending = [];
    this._needKey = true;
    this._keyRequested = false;
    this._failures = 0;
    this._closed = false;
  }

  /**
   * (Re)starts the stream, as the service's `stream` message says; the next frame is a key frame.
   * @param {{codecString: string, width: number, height: number}} stream
   */
  configure({ codecString, width, height }) {
    // H.264 arrives in Annex B form, which is what a configuration without `description` means.
    // Failures are forgotten only when a picture comes out or the codec changes: the service
    // answers a key frame request with a new stream message, which must not reset the count, or
    // a decoder that can never decode this codec would ask for key frames forever.
    if (this._config?.codec !== codecString) this._failures = 0;
    this._config = { codec: codecString, codedWidth: width, codedHeight: height, optimizeForLatency: true };
    this._stop();
  }

  /**
   * Takes a received frame.
   * @param {import("./protocol.js").Frame} frame
   */
  push(frame) {
    if (this._closed) return;
    // A key frame answers any key frame request: should it fail too, the next failure asks again.
    if (frame.key) this._keyRequested = false;
    const decoder = this._accepts(frame) ? this._decoder ?? this._start() : null;
    if (!decoder) {
      this._done(frame, DROPPED);
      return;
    }
    this._pending.push({ frame, start: this._now() });
    this._needKey = false;
    try {
      decoder.decode(frame);
    } catch (error) {
      this._fail(decoder, error);
    }
  }

  /** Stops and releases the decoder; nothing is painted or reported after this. */
  close() {
    this._closed = true;
    this._pending = [];
    this._decoder?.close();
    this._decoder = null;
  }

  // Whether a frame can go to the decoder; a delta frame that cannot asks for a key frame.
  _accepts(frame) {
    if (!this._config || this._failures >= MAX_DECODER_FAILURES) return false;
    if (this._needKey && !frame.key) {
      this._askForKeyFrame();
      return false;
    }
    return true;
  }

  // A new decoder for the current configuration, or null when none can be made or configured.
  _start() {
    let decoder = null;
    try {
      decoder = this._createDecoder({
        output: (picture) => this._output(decoder, picture),
        error: (error) => this._fail(decoder, error),
      });
      this._decoder = decoder;
      decoder.configure(this._config);
      return decoder;
    } catch (error) {
      this._failed(error);
      return null;
    }
  }

  // Closes the decoder and drops what it still held: a new one starts at the next key frame.
  _stop() {
    this._decoder?.close();
    this._decoder = null;
    this._needKey = true;
    for (const { frame } of this._pending.splice(0)) this._done(frame, DROPPED);
  }

  _askForKeyFrame() {
    if (this._keyRequested) return;
    this._keyRequested = true;
    this._requestKeyFrame();
  }

  _output(decoder, picture) {
    if (decoder !== this._decoder) {
      picture.close();
      return;
    }
    this._failures = 0;
    const index = this._pending.findIndex((entry) => entry.frame.id === picture.timestamp);
    if (index < 0) {
      picture.close();
      return;
    }
    // Frames before this one that the decoder skipped (it may) will never come out: drop them.
    for (const skipped of this._pending.splice(0, index)) this._done(skipped.frame, DROPPED);
    const entry = this._pending.shift();
    let outcome;
    try {
      this._paint(picture, entry.frame);
      outcome = { shown: true, decodeMs: this._now() - entry.start };
    } catch (error) {
      outcome = { shown: false, decodeMs: this._now() - entry.start, error };
    } finally {
      picture.close();
    }
    this._done(entry.frame, outcome);
  }

  // A failure reported by `decoder`, which may have been replaced since.
  _fail(decoder, error) {
    if (decoder === this._decoder && !this._closed) this._failed(error);
  }

  _failed(error) {
    this._failures += 1;
    this._onError(error);
    this._stop();
    if (this._failures < MAX_DECODER_FAILURES) this._askForKeyFrame();
  }
}
