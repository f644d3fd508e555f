/**
 * What this page can decode, and the id that names the page to the service.
 * @module capabilities
 */

/** Every browser with `createImageBitmap` decodes these. */
export const IMAGE_DECODERS = Object.freeze(["jpeg", "png"]);

/**
 * The WebCodecs codec string probed for each video codec: the most widely decodable profile of
 * each (H.264 constrained baseline, VP9 profile 0, AV1 main), which is what a low-latency
 * encoder produces.
 */
export const VIDEO_PROBES = Object.freeze({
  h264: "avc1.42E01F",
  vp9: "vp09.00.10.08",
  av1: "av01.0.04M.08",
});

/** How long one codec probe may take before the codec counts as unsupported. */
export const PROBE_TIMEOUT_MS = 1000;

/**
 * Whether the page can decode image frames.
 * @returns {boolean}
 */
export function isImageStreamingSupported() {
  return typeof globalThis.createImageBitmap === "function";
}

/**
 * Whether the page can decode video frames: WebCodecs is there (Chromium, Edge, Firefox 130+,
 * Safari 16.4+, and only in secure contexts: https, or http on localhost).
 * @returns {boolean}
 */
export function isVideoStreamingSupported() {
  return typeof globalThis.VideoDecoder === "function";
}

// `promise`'s value, or null after `ms`; the timer goes when the race is decided.
function withTimeout(promise, ms) {
  let timer;
  const expired = new Promise((resolve) => {
    timer = setTimeout(resolve, ms, null);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * The codecs this page decodes, for `hello`: the image codecs, plus each video codec that
 * `VideoDecoder.isConfigSupported` confirms within `timeoutMs` (a probe can hang while a
 * hardware decoder starts; waiting longer would delay `hello`).
 * @param {{isConfigSupported(config: object): Promise<{supported?: boolean}>}|undefined} videoDecoder
 *   the `VideoDecoder` class, or undefined without WebCodecs
 * @param {number} [timeoutMs]
 * @returns {Promise<string[]>}
 */
export async function probeDecoders(videoDecoder, timeoutMs = PROBE_TIMEOUT_MS) {
  if (!videoDecoder) return [...IMAGE_DECODERS];
  const probe = async ([name, codec]) => {
    try {
      const result = await withTimeout(videoDecoder.isConfigSupported({ codec, optimizeForLatency: true }), timeoutMs);
      return result?.supported ? name : null;
    } catch {
      return null;
    }
  };
  const video = await Promise.all(Object.entries(VIDEO_PROBES).map(probe));
  return [...IMAGE_DECODERS, ...video.filter(Boolean)];
}

let pageProbe = null;

/**
 * {@link probeDecoders} for this page's `VideoDecoder`, probed once and shared by all render areas.
 * @returns {Promise<string[]>}
 */
export function pageDecoders() {
  pageProbe ??= probeDecoders(globalThis.VideoDecoder);
  return pageProbe;
}

// On globalThis rather than in this module, so that two copies of the module loaded from two
// URLs on one page still share one id: the service groups a page's render areas by it.
const CLIENT_ID_KEY = Symbol.for("remoteviz.clientId");

/**
 * The page's client id: random, made once per page load, shared by all its render areas.
 * @returns {string} 32 hex digits
 */
export function pageClientId() {
  if (!globalThis[CLIENT_ID_KEY]) {
    // getRandomValues, unlike randomUUID, exists outside secure contexts too (plain http).
    const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
    globalThis[CLIENT_ID_KEY] = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  return globalThis[CLIENT_ID_KEY];
}

/** Renderer names of software WebGL implementations: `auto` leaves their pages server-side. */
const SOFTWARE_RENDERERS = /swiftshader|llvmpipe|softpipe|software|basic render/i;

/**
 * What this browser can draw client-side with, as `render` reports it to the service: WebGL2,
 * whether its renderer is a software one, and the device's memory (`navigator.deviceMemory`,
 * which browsers round and cap; 0 where unknown).
 * @param {() => HTMLCanvasElement|OffscreenCanvas|null} [makeCanvas]
 * @returns {{webgl2: boolean, software: boolean, memoryMb: number, renderer: string}}
 */
export function webglCapabilities(makeCanvas = () => globalThis.document?.createElement("canvas") ?? null) {
  const memoryMb = Math.round((globalThis.navigator?.deviceMemory ?? 0) * 1024);
  let gl = null;
  try {
    gl = makeCanvas()?.getContext("webgl2") ?? null;
  } catch {
    gl = null;
  }
  if (!gl) return { webgl2: false, software: false, memoryMb, renderer: "" };
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? "");
  gl.getExtension("WEBGL_lose_context")?.loseContext();
  return { webgl2: true, software: SOFTWARE_RENDERERS.test(renderer), memoryMb, renderer };
}
