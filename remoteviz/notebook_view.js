// The page side of remoteviz.notebook.RenderAreaView (an anywidget ES module): the ordinary
// browser client, loaded from the sources the widget carries, showing one render area.
//
// It connects straight to the kernel's service first (the fast path). Where the page cannot
// reach the kernel's port (a remote JupyterHub, VS Code) or the service refuses the page's
// origin, it falls back to a copy of the client whose WebSocket is a RelaySocket: the same
// protocol, carried over Jupyter's own widget channel, which the kernel relays to its service.
// The kernel sends at most a window of messages ahead of the page's acknowledgements.
//
// Tokens are not part of the widget's state (a saved notebook would keep them): the page asks
// the kernel for a fresh, short-lived one each time it connects directly.

const DIRECT_TIMEOUT_MS = 8000;  // no "connected" by then on the direct path: relay instead
const RELAY_SCHEME = "remoteviz-relay:";
const RELAY_SOCKET = Symbol.for("remoteviz.notebook.RelaySocket");

const loaded = new Map();  // module sources (and variant) -> the client's entry module, shared by this module's views
// Channel key -> KernelChannel, for the RelaySockets the relayed client opens. Page-wide: anywidget
// may evaluate this module once per widget, while the relayed client finds one RelaySocket class.
const channels = (globalThis[Symbol.for("remoteviz.notebook.channels")] ??= new Map());
let channelCount = 0;

/** The bytes of a widget message buffer (a DataView or an ArrayBuffer) as an ArrayBuffer of their own. */
function arrayBuffer(buffer) {
  if (buffer instanceof ArrayBuffer) return buffer;
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
}

/**
 * A WebSocket look-alike over a view's widget channel: what the relayed copy of the client opens
 * instead of a WebSocket (`url` is `remoteviz-relay:CHANNEL/AREA...`).
 */
class RelaySocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;

  constructor(url) {
    this.url = url;
    this.readyState = RelaySocket.CONNECTING;
    this.binaryType = "arraybuffer";
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    this._channel = channels.get(url.slice(RELAY_SCHEME.length).split("/")[0]);
    if (!this._channel) {
      queueMicrotask(() => this._closed(1006, "the notebook view is gone"));
      return;
    }
    this._id = this._channel.openRelay(this);
  }

  send(data) {
    if (this.readyState !== RelaySocket.OPEN) throw new DOMException("the relayed connection is not open", "InvalidStateError");
    this._channel.relaySend(this._id, data);
  }

  close(code = 1000, reason = "") {
    if (this.readyState >= RelaySocket.CLOSING) return;
    this.readyState = RelaySocket.CLOSING;
    this._channel?.relayClose(this._id, code, reason);
  }

  _opened() {
    if (this.readyState !== RelaySocket.CONNECTING) return;
    this.readyState = RelaySocket.OPEN;
    this.onopen?.({ type: "open" });
  }

  _message(data) {
    if (this.readyState === RelaySocket.OPEN) this.onmessage?.({ type: "message", data });
  }

  _closed(code, reason) {
    if (this.readyState === RelaySocket.CLOSED) return;
    this.readyState = RelaySocket.CLOSED;
    this.onclose?.({ type: "close", code, reason, wasClean: code === 1000 });
  }
}
globalThis[RELAY_SOCKET] ??= RelaySocket;

/** One view's conversation with its kernel over the widget channel: tokens and relayed connections. */
class KernelChannel {
  constructor(model) {
    this.model = model;
    this.key = `${Date.now().toString(36)}-${++channelCount}-${Math.random().toString(36).slice(2, 8)}`;
    this.sockets = new Map();
    this.nextId = 1;
    this.tokenWaiters = [];
    this.lastRefusal = "";  // why the kernel could not open the last relayed connection
    this.listener = (message, buffers) => this.received(message, buffers);
    model.on("msg:custom", this.listener);
    channels.set(this.key, this);
  }

  send(fields, buffers) {
    this.model.send({ channel: this.key, ...fields }, undefined, buffers);
  }

  /** A fresh token for the direct connection ("" where the service needs none), once the kernel answers. */
  token() {
    return new Promise((resolve) => {
      this.tokenWaiters.push(resolve);
      this.send({ type: "token" });
    });
  }

  relayUrl(url) {
    return `${RELAY_SCHEME}${this.key}/${url.replace(/^wss?:\/\/[^/]*\//, "")}`;
  }

  openRelay(socket) {
    const id = this.nextId++;
    this.sockets.set(id, socket);
    this.send({ type: "relay-open", id });
    return id;
  }

  relaySend(id, data) {
    if (typeof data === "string") this.send({ type: "relay-send", id, text: data });
    else this.send({ type: "relay-send", id }, [data instanceof ArrayBuffer ? data : arrayBuffer(data)]);
  }

  relayClose(id, code, reason) {
    this.send({ type: "relay-close", id, code, reason });
  }

  received(message, buffers) {
    if (message?.channel !== this.key) return;  // another view of the same widget
    if (message.type === "token") {
      for (const waiter of this.tokenWaiters.splice(0)) waiter(String(message.token ?? ""));
      return;
    }
    const socket = this.sockets.get(message.id);
    if (!socket) return;
    if (message.type === "relay-opened") socket._opened();
    else if (message.type === "relay-message") {
      socket._message(typeof message.text === "string" ? message.text : arrayBuffer(buffers[0]));
      this.send({ type: "relay-ack", id: message.id, count: 1 });  // the kernel may send the next one
    } else if (message.type === "relay-closed") {
      this.sockets.delete(message.id);
      if (socket.readyState === RelaySocket.CONNECTING) this.lastRefusal = String(message.reason ?? "");
      socket._closed(Number(message.code) || 1006, String(message.reason ?? ""));
    }
  }

  dispose() {
    this.model.off("msg:custom", this.listener);
    for (const socket of this.sockets.values()) socket.close(1000, "the notebook view was closed");
    channels.delete(this.key);
  }
}

/** A blob URL for module `name` of `sources`, its imports of sibling modules pointing at theirs. */
function moduleUrl(sources, name, urls, prelude, pending = new Set()) {
  if (urls.has(name)) return urls.get(name);
  if (pending.has(name)) throw new Error(`remoteviz: circular import of ${name}`);
  pending.add(name);
  let text = sources[name].replace(/(from\s*)"\.\/([\w.-]+\.js)"/g, (whole, head, dependency) =>
    dependency in sources ? `${head}"${moduleUrl(sources, dependency, urls, prelude, pending)}"` : whole);
  if (prelude && /\bWebSocket\b/.test(text)) text = prelude + text;
  const url = URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
  urls.set(name, url);
  return url;
}

/** The client's entry module; `relayed`: the copy whose `WebSocket` is the RelaySocket. */
async function loadClient(sources, relayed) {
  const key = JSON.stringify([relayed, Object.keys(sources).map((name) => [name, sources[name].length])]);
  const prelude = relayed ? `const WebSocket = globalThis[Symbol.for("remoteviz.notebook.RelaySocket")];\n` : "";
  if (!loaded.has(key)) loaded.set(key, import(moduleUrl(sources, "remoteviz.js", new Map(), prelude)));
  return loaded.get(key);
}

function withToken(url, token) {
  if (!token) return url;
  return `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
}

async function render({ model, el }) {
  const sources = model.get("modules");
  const box = document.createElement("div");
  box.className = "remoteviz-notebook-view";
  const status = document.createElement("div");
  status.className = "remoteviz-notebook-status";
  status.style.cssText = "font: 12px monospace; color: #666; padding-top: 2px";
  status.textContent = "connecting…";
  el.append(box, status);
  const channel = new KernelChannel(model);
  let area = null;
  let disposed = false;

  // A render area of the client copy chosen, connected; resolves true once "connected", false on
  // a disconnection or no answer first (the direct path's test).
  const connect = async (relayed) => {
    const { RemoteVizRenderArea } = await loadClient(sources, relayed);
    area?.dispose();
    box.replaceChildren();
    const current = new RemoteVizRenderArea(box, model.get("width"), model.get("height"));
    area = current;
    const via = relayed ? " through Jupyter" : "";
    let settle;
    const outcome = new Promise((resolve) => { settle = resolve; });
    current.addServiceListener((event) => {
      if (area !== current) return;
      if (event[0] === "connected") {
        status.textContent = `${event[1].renderAreaId}: connected${via}`;
        settle(true);
      }
      if (event[0] === "disconnected") {
        // A relayed connection that never opened: the kernel's reason says more than the client's guess.
        const detail = relayed && channel.lastRefusal ? channel.lastRefusal : event[2] || "";
        status.textContent = `disconnected: ${event[1]} ${detail}`;
        settle(false);
      }
      if (event[0] === "error") status.textContent = `error: ${event[1]}`;
      if (event[0] === "failure") status.textContent = `the service cannot ${event[1].stage} frames: ${event[1].detail}`;
    });
    const url = model.get("url");
    if (!relayed) status.textContent = "waiting for the kernel…";  // it answers between cells
    current.connectTo(relayed ? channel.relayUrl(url) : withToken(url, await channel.token()));
    if (area === current) status.textContent = "connecting…";
    if (!relayed) setTimeout(() => settle(false), DIRECT_TIMEOUT_MS);
    return outcome;
  };

  (async () => {
    try {
      if (await connect(false) || disposed) return;
      status.textContent = "the kernel's port cannot be reached from this page: connecting through Jupyter…";
      if (!disposed) await connect(true);
    } catch (error) {
      status.textContent = `error: ${error.message}`;
    }
  })();
  return () => {
    disposed = true;
    area?.dispose();
    channel.dispose();
  };
}

export default { render };
