/**
 * Whether, and when, to reconnect after a connection ended.
 * @module reconnect
 */

import { DisconnectReason } from "./protocol.js";

/**
 * Reconnection settings (the `reconnect` option of a render area, when it is an object).
 * @typedef {object} ReconnectOptions
 * @property {number} [baseMs] the first delay, doubled on every failed attempt (default 500)
 * @property {number} [maxMs] the longest delay (default 30000)
 * @property {number} [maxAttempts] attempts in a row before giving up (default Infinity)
 */

/**
 * The delay before reconnect attempt `attempt`, or null to stay disconnected.
 *
 * Only a NETWORKFAILURE (a dropped network, a service that stopped answering or failed, or any
 * close that said nothing) is worth retrying: REFUSED and KICKED are the application's decisions
 * and DISPOSED means the render area is gone, so retrying would be refused again or undo them.
 * The delay doubles with each attempt up to `maxMs`, and is jittered down by up to half so that
 * the pages of a restarted service do not all come back at the same instant.
 * @param {string} reason a {@link DisconnectReason}
 * @param {number} attempt 0 for the first attempt after a connection that had been accepted
 * @param {ReconnectOptions} [options]
 * @param {() => number} [random] a number in [0, 1), for the jitter
 * @returns {number|null} milliseconds
 */
export function reconnectDelay(reason, attempt, options = {}, random = Math.random) {
  const { baseMs = 500, maxMs = 30000, maxAttempts = Infinity } = options;
  if (reason !== DisconnectReason.NETWORKFAILURE || attempt >= maxAttempts) return null;
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return ceiling * (1 - random() / 2);
}
