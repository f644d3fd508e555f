/**
 * Rates over a sliding window (frames per second, bytes per second) and the one-line summary the
 * stats overlay shows.
 * @module stats
 */

/** Counts events in a sliding time window. */
export class RateMeter {
  /** @param {number} [windowMs] how far back the rate looks */
  constructor(windowMs = 1000) {
    this._windowMs = windowMs;
    /** @type {Array<[number, number]>} [time, amount], oldest first */
    this._samples = [];
    this._sum = 0;
  }

  /**
   * Records `amount` at time `now`.
   * @param {number} now milliseconds
   * @param {number} [amount]
   */
  add(now, amount = 1) {
    this._samples.push([now, amount]);
    this._sum += amount;
    this._forget(now);
  }

  /**
   * The amount per second over the window ending at `now`.
   * @param {number} now milliseconds
   * @returns {number}
   */
  rate(now) {
    this._forget(now);
    return (this._sum * 1000) / this._windowMs;
  }

  _forget(now) {
    let stale = 0;
    while (stale < this._samples.length && this._samples[stale][0] <= now - this._windowMs) {
      this._sum -= this._samples[stale][1];
      stale += 1;
    }
    if (stale) this._samples.splice(0, stale);
  }
}

/**
 * A render area's streaming statistics.
 * @typedef {object} Stats
 * @property {number} fps frames painted per second, over the last second
 * @property {number} bandwidth bytes received per second, over the last second
 * @property {number|null} inputLatencyMs the last input-to-picture latency measured
 * @property {number|null} decodeMs the last frame's decode and paint time
 * @property {string|null} codec the last frame's codec
 * @property {number} framesReceived
 * @property {number} framesPainted
 * @property {number} framesDropped frames acknowledged without being shown
 * @property {boolean} videoInWorker true while video is decoded in a worker (false: on the main thread)
 * @property {number} interactiveScale the last interactive frame's picture width over the render
 *   area's (1: full size; below 1 the service sent it smaller, for its link or its cost, and it was
 *   scaled up to the canvas)
 */

/**
 * The fraction of the render area's size a frame's picture has (at most 1).
 * @param {{width: number, areaWidth: number}} frame the frame's header
 * @returns {number}
 */
export function pictureScale(frame) {
  return frame.areaWidth > 0 ? Math.min(1, frame.width / frame.areaWidth) : 1;
}

/**
 * The overlay's text for `stats`.
 * @param {Stats} stats
 * @returns {string}
 */
export function formatStats(stats) {
  const ms = (value, digits) => (value === null ? "–" : `${value.toFixed(digits)} ms`);
  const megabits = (stats.bandwidth * 8) / 1e6;
  return [
    `${stats.fps.toFixed(1)} fps ${stats.codec ?? ""}`.trim(),
    `scale ${stats.interactiveScale.toFixed(2)}`,
    `input ${ms(stats.inputLatencyMs, 0)}`,
    `decode ${ms(stats.decodeMs, 1)}`,
    `${megabits.toFixed(2)} Mbit/s`,
    `dropped ${stats.framesDropped}`,
  ].join(" · ");
}
