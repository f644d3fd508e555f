// What the tests of client-side rendering wait with: inflating goes through streams, so a
// result comes a few turns of the event loop later.

export const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

/** Waits until `condition()` holds, or throws after `timeoutMs`. */
export async function until(condition, timeoutMs = 2000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await tick();
  }
}
