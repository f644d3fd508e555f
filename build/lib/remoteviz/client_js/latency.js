/**
 * Input-to-picture latency: each input message gets an increasing `seq`; frames name the last
 * seq they show, so the time from sending an input to painting the first frame that shows it is
 * known. The send times live in a bounded map: inputs the service merges or never shows
 * (a hundred mouse moves before one frame) must not pile up.
 * @module latency
 */

/** The largest `seq` the protocol allows; the numbering wraps to 1 after it (0 means "none"). */
export const MAX_SEQ = 2 ** 32 - 1;

/** Numbers input messages and measures how long each took to show up in a frame. */
export class InputLatency {
  /**
   * @param {number} [capacity] how many send times to remember at most
   * @param {number} [lastSeq] the seq to continue after: a fresh connection starts at 0
   */
  constructor(capacity = 256, lastSeq = 0) {
    this._capacity = capacity;
    this._seq = lastSeq;
    /** @type {Map<number, number>} seq -> send time, oldest first (a Map keeps insertion order) */
    this._sent = new Map();
  }

  /** How many send times are remembered. */
  get size() {
    return this._sent.size;
  }

  /**
   * Numbers the next input message and remembers when it was sent.
   * @param {number} now the send time, in milliseconds
   * @returns {number} its seq
   */
  next(now) {
    this._seq = this._seq >= MAX_SEQ ? 1 : this._seq + 1;
    this._sent.set(this._seq, now);
    if (this._sent.size > this._capacity) this._sent.delete(this._sent.keys().next().value);
    return this._seq;
  }

  /**
   * The latency of input `seq`, shown by a frame painted at `now`, or null when it is unknown
   * (0, already measured by an earlier frame, or forgotten). The input and every older one are
   * forgotten: a frame shows all the input before the seq it names, and later frames naming
   * the same seq show nothing new.
   * @param {number} seq the frame's input seq
   * @param {number} now the paint time, in milliseconds
   * @returns {number|null}
   */
  resolve(seq, now) {
    const sentAt = this._sent.get(seq);
    if (sentAt === undefined) return null;
    // Walking in send order rather than comparing numbers stays right when the seq wraps.
    for (const key of this._sent.keys()) {
      this._sent.delete(key);
      if (key === seq) break;
    }
    return now - sentAt;
  }
}
