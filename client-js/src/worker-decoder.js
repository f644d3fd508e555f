/**
 * Video decoders that run in a worker (`video-worker.js`), for {@link VideoStream}: the page's
 * main thread only paints the RGB pictures that come back. Where no worker can be started, or
 * the worker fails, decoders are made on the main thread instead.
 * @module worker-decoder
 */

/**
 * Makes `createDecoder` functions for {@link VideoStream} that decode in one worker.
 *
 * `startWorker()` returns the worker (or throws: no workers, a policy that forbids them);
 * `fallback(callbacks)` makes a main-thread decoder, used once the worker cannot be used. The
 * worker is started at the first decoder and ended by `terminate()`.
 */
export class WorkerDecoders {
  /**
   * @param {object} hooks
   * @param {() => {postMessage(message: unknown, transfer?: Transferable[]): void, terminate(): void, onmessage: unknown, onerror: unknown}} hooks.startWorker
   * @param {(callbacks: object) => import("./frames.js").FrameDecoder} hooks.fallback
   */
  constructor({ startWorker, fallback }) {
    this._startWorker = startWorker;
    this._fallback = fallback;
    this._worker = null;
    this._broken = false;
    this._generation = 0;
    /** @type {{generation: number, callbacks: {output: Function, error: Function}}|null} */
    this._current = null;
    /** @type {(callbacks: {output: Function, error: Function}) => import("./frames.js").FrameDecoder} */
    this.createDecoder = (callbacks) => this._create(callbacks);
  }

  /** @returns {boolean} true while decoders are made in the worker */
  get inWorker() {
    return !this._broken;
  }

  /** Ends the worker; later decoders are made on the main thread. */
  terminate() {
    this._broken = true;
    this._worker?.terminate();
    this._worker = null;
    this._current = null;
  }

  _create(callbacks) {
    const worker = this._broken ? null : this._worker ?? this._start();
    if (!worker) return this._fallback(callbacks);
    const mine = { generation: ++this._generation, callbacks };
    this._current = mine;
    const post = (message, transfer) => worker.postMessage({ generation: mine.generation, ...message }, transfer);
    return {
      configure: (config) => post({ type: "configure", config }),
      decode: (frame) => {
        // The payload is a view into the received message: copied, so its own buffer can move.
        const payload = frame.payload.slice().buffer;
        post({ type: "decode", id: frame.id, key: frame.key, payload }, [payload]);
      },
      close: () => {
        if (this._current !== mine) return;
        this._current = null;
        post({ type: "close" });
      },
    };
  }

  _start() {
    try {
      const worker = this._startWorker();
      worker.onmessage = ({ data }) => this._message(data);
      // The script did not load, or threw.
      worker.onerror = (event) => {
        event?.preventDefault?.();
        this._abandon(`video worker failed: ${event?.message ?? "could not start"}`);
      };
      this._worker = worker;
      return worker;
    } catch {
      this._broken = true;
      return null;
    }
  }

  _message(data) {
    const current = this._current;
    if (!current || data.generation !== current.generation) {
      data.bitmap?.close();
      return;
    }
    if (data.type === "output") {
      const { bitmap } = data;
      // What VideoStream wants of a picture: its frame id as `timestamp`, and `close()`.
      current.callbacks.output(Object.assign(bitmap, { timestamp: data.id }));
    } else if (data.type === "error") {
      current.callbacks.error(new Error(data.message));
    } else if (data.type === "unusable") {
      this._abandon("no WebCodecs in workers: video is decoded on the main thread");
    }
  }

  // Gives the worker up and tells the stream, which starts a new decoder (on the main thread
  // now) at the next key frame.
  _abandon(why) {
    const current = this._current;
    this.terminate();
    current?.callbacks.error(new Error(why));
  }
}
