// The page's side of the viewer tools' app messages (remoteviz/viewer_tools.py, docs/guide.md):
// JSON objects whose type starts with "viewer.", sent and received through a RemoteVizRenderArea.

export const PREFIX = "viewer.";

/** Whether a received app message is one of the viewer tools' (which the page need not show). */
export function isViewerMessage(message) {
  return typeof message === "string" && /^\{\s*"type"\s*:\s*"viewer\./.test(message);
}

/**
 * Sends viewer requests and hands each viewer message to the handlers registered for its type
 * ("state", "tree", "measure", ...; without the prefix). A "viewer.screenshot" header is followed
 * by the PNG itself as the next binary message: the handler gets both.
 */
export class ViewerChannel {
  /** @param {import("/remoteviz/remoteviz.js").RemoteVizRenderArea} renderArea */
  constructor(renderArea) {
    this.renderArea = renderArea;
    this._handlers = new Map();
    this._awaitingBytes = null; // the screenshot header whose PNG comes next
    renderArea.addReceivedMessageListener((message) => this._received(message));
  }

  /** Calls handler(message) for each received message of this type (without the prefix). */
  on(type, handler) {
    if (!this._handlers.has(type)) this._handlers.set(type, []);
    this._handlers.get(type).push(handler);
  }

  /** Sends {type: "viewer." + type, ...fields}; false when not connected. */
  send(type, fields = {}) {
    return this.renderArea.sendMessage(JSON.stringify({ type: PREFIX + type, ...fields }));
  }

  /** Sends a message that is not the viewer tools' own (e.g. the colour map's). */
  sendRaw(message) {
    return this.renderArea.sendMessage(JSON.stringify(message));
  }

  _received(message) {
    if (typeof message !== "string") {
      if (this._awaitingBytes) {
        const header = this._awaitingBytes;
        this._awaitingBytes = null;
        this._emit("screenshot", { ...header, data: message });
      }
      return;
    }
    if (!message.startsWith("{")) return;
    let decoded;
    try {
      decoded = JSON.parse(message);
    } catch {
      return; // another part of the application talks in text
    }
    if (typeof decoded?.type !== "string" || !decoded.type.startsWith(PREFIX)) return;
    const type = decoded.type.slice(PREFIX.length);
    if (type === "screenshot") {
      this._awaitingBytes = decoded;
      return;
    }
    this._emit(type, decoded);
  }

  _emit(type, message) {
    for (const handler of this._handlers.get(type) || []) handler(message);
  }
}
