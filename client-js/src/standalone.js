/**
 * The viewer of a single-file export (`remoteviz export FILE -o model.html`): shows a model that
 * the file itself holds, with no service and no network, and navigates it as the service's
 * examiner would (orbit, pan, zoom, Home). `remoteviz/scene_sync/export.py` inlines this module
 * and the ones it imports into the file.
 * @module standalone
 */

import { InputCapture } from "./input-capture.js";
import { SceneStore } from "./scene-store.js";
import { WebGLRenderer } from "./webgl-renderer.js";
import { Examiner } from "./examiner.js";

function decodeBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Shows an exported model in `view` (an empty, focusable element that fills what it should).
 * @param {HTMLElement} view
 * @param {{scene: object, buffers: Record<string, string>}} model the `scene` update and its
 *   deflated buffers in base64, by name
 * @returns {{store: SceneStore, examiner: Examiner, draws: () => number}} for the page's own scripts
 */
export function showModel(view, model) {
  const canvas = document.createElement("canvas");
  Object.assign(canvas.style, { width: "100%", height: "100%", display: "block" });
  view.append(canvas);
  let draws = 0;
  let queued = false;
  let renderer = null;
  const draw = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      const ratio = globalThis.devicePixelRatio || 1;
      const width = Math.max(1, Math.round(view.clientWidth * ratio));
      const height = Math.max(1, Math.round(view.clientHeight * ratio));
      if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
      if (renderer && store.complete) {
        renderer.draw(store);
        draws += 1;
      }
    });
  };
  const store = new SceneStore({ ack: () => {}, changed: draw });
  store.update(model.scene);
  for (const [name, text] of Object.entries(model.buffers)) {
    const bytes = decodeBase64(text);
    store.chunk({ chunk: 0, buffer: name, offset: 0, total: bytes.length, payload: bytes });
  }
  renderer = new WebGLRenderer(canvas);
  const examiner = new Examiner(store.camera);
  new InputCapture(view, {
    locate: (event) => {
      const rect = canvas.getBoundingClientRect();
      const x = Math.floor((event.clientX - rect.left) * canvas.width / (rect.width || 1));
      const y = Math.floor((event.clientY - rect.top) * canvas.height / (rect.height || 1));
      return { x, y, inside: x >= 0 && y >= 0 && x < canvas.width && y < canvas.height };
    },
    emit: (message) => {
      if (examiner.handle(message, { width: canvas.width, height: canvas.height })) draw();
      return true;
    },
  });
  new ResizeObserver(draw).observe(view);
  draw();
  return { store, examiner, draws: () => draws };
}
