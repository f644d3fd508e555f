/**
 * The browser side of a remoteviz render area: a view in the page that shows the frames a
 * remoteviz service streams over a WebSocket, and sends the user's input back.
 * @module render-area
 */

import { IMAGE_MIME_TYPES, binaryMessage, containerMessage, sizeMessage, textMessage, webSocketUrl } from "./protocol.js";
import { DisplayMode, areaSizeFor, checkDisplayMode, computeLayout, containerToArea } from "./layout.js";
import { InputCapture } from "./input-capture.js";
import { createWebCodecsDecoder } from "./frames.js";
import { WorkerDecoders } from "./worker-decoder.js";
import { formatStats } from "./stats.js";
import { ConnectionCore, notifyAll } from "./connection-core.js";
import { frameDisplay } from "./frame-display.js";
import { ClientRendering, DrawnBy } from "./client-rendering.js";
import { isImageStreamingSupported, isVideoStreamingSupported, pageClientId, pageDecoders, webglCapabilities } from "./capabilities.js";

/**
 * Options of a render area, the constructor's fifth argument.
 * @typedef {object} RenderAreaOptions
 * @property {boolean} [autoResize] make the view fill the container element and follow its size,
 *   asking the service for a matching render area size (default false)
 * @property {boolean|import("./reconnect.js").ReconnectOptions} [reconnect] reconnect with backoff
 *   after a network failure (default false)
 * @property {number} [pixelRatio] device pixels per CSS pixel for the requested render area size;
 *   default `devicePixelRatio` (1 halves a HiDPI screen's rendering and bandwidth, for a blurrier picture)
 * @property {string} [application] the application name the service is told (default `document.title`)
 * @property {number} [resizeDelayMs] how long the container must stay still before the service
 *   hears of a new size (default 150)
 * @property {boolean} [videoWorker] decode video in a worker, off the page's main thread, where
 *   the browser can (default true; false decodes on the main thread)
 * @property {"server"|"client"|"auto"} [render] who draws the view: the service ("server", the
 *   default), the page with WebGL2 ("client"), or the service's choice from what the page can
 *   draw with and what the scene holds ("auto"); the application must allow client-side
 *   rendering, else the service keeps sending frames
 */

/**
 * A service notification, as service listeners get it: the event name, then its details.
 * - `["connected", {connectionId, clientId, renderAreaId, width, height, stillEncoder, interactiveEncoder}]`
 * - `["disconnected", reason, detail]`, reason one of DISPOSED, REFUSED, KICKED, NETWORKFAILURE
 * - `["reconnecting", attempt, delayMs]`
 * - `["startNetworkCalibration", fields]`, `["pendingNetworkCalibration", fields]`,
 *   `["finishedNetworkCalibration", {bandwidth, latency_ms}]` (the `notify` message's other fields)
 * - `["error", detail]` the service says the page broke the protocol
 * - `["failure", {stage, detail, retryMs}]` the service cannot make frames now (rendering or
 *   encoding failed; it retries): show `detail` until the next frame arrives
 * @typedef {[string, ...any[]]} ServiceEvent
 */

/**
 * A frame as received, before decoding.
 * @typedef {object} ReceivedFrame
 * @property {number} id
 * @property {number} width of the encoded picture
 * @property {number} height
 * @property {string} codec "jpeg", "png", "h264", "vp9" or "av1"
 * @property {boolean} still a still (best quality) frame
 * @property {boolean} key decodable on its own
 * @property {string} text what the application attached to the frame
 * @property {number} byteLength
 */

/**
 * A frame as painted.
 * @typedef {object} DecodedFrame
 * @property {number} id
 * @property {string} codec
 * @property {boolean} lossless true for PNG frames
 * @property {boolean} still
 * @property {string} text
 * @property {number} decodeMs decode and paint time
 * @property {number|null} inputLatencyMs time from sending the input this frame first shows to painting it
 */

const DEFAULT_RESIZE_DELAY_MS = 150;

/**
 * A render area shown in a page element and streamed from a remoteviz service.
 *
 * It fills its view with a canvas of the render area's size in pixels, laid out per the display
 * mode; captures mouse, pen, touch, wheel and keyboard input and sends it in render-area pixels;
 * decodes and paints the frames (images with `createImageBitmap`, video with WebCodecs) and
 * acknowledges each one.
 */
export class RemoteVizRenderArea {
  /** The display modes, for pages that load this class from a classic script. */
  static DisplayMode = DisplayMode;

  /**
   * @param {HTMLElement|string} container the element to show the render area in, or its id
   * @param {number} width the view's width in CSS pixels (ignored with `autoResize`)
   * @param {number} height the view's height in CSS pixels (ignored with `autoResize`)
   * @param {string} [displayMode] a {@link DisplayMode}: FIT (default), CROP or STRETCH
   * @param {RenderAreaOptions} [options]
   */
  constructor(container, width, height, displayMode = DisplayMode.FIT, options = {}) {
    const element = typeof container === "string" ? document.getElementById(container) : container;
    if (!element) throw new Error(`RemoteVizRenderArea: no element with id "${container}"`);
    this._displayMode = checkDisplayMode(displayMode);
    this._options = { autoResize: false, reconnect: false, resizeDelayMs: DEFAULT_RESIZE_DELAY_MS, videoWorker: true, ...options };
    // One worker per render area, started with the first video stream; main-thread decoders otherwise.
    this._videoDecoders = this._options.videoWorker && typeof Worker !== "undefined"
      ? new WorkerDecoders({
        startWorker: () => new Worker(new URL("./video-worker.js", import.meta.url), { type: "module" }),
        fallback: createWebCodecsDecoder,
      })
      : null;
    const showFrames = frameDisplay({
      decodeImage: (frame) => createImageBitmap(new Blob([frame.payload], { type: IMAGE_MIME_TYPES[frame.codec] })),
      createVideoDecoder: this._videoDecoders?.createDecoder ?? createWebCodecsDecoder,
      paint: (picture, frame) => this._paint(picture, frame),
    });
    this._glCanvas = null;
    this._clientRendering = new ClientRendering({
      mode: this._options.render ?? "server",
      capabilities: () => webglCapabilities(),
      createRenderer: () => this._createRenderer(),
      show: (drawnBy) => this._show(drawnBy),
      send: (message) => this._core.send(message),
      notify: (event) => notifyAll(this._listeners.service, event),
      viewport: () => ({ width: this._areaWidth, height: this._areaHeight }),
    });
    this._core = new ConnectionCore({
      createSocket: (url) => new WebSocket(url),
      hello: () => ({
        clientId: pageClientId(),
        width: this._requested.width,
        height: this._requested.height,
        containerWidth: this._containerWidth,
        containerHeight: this._containerHeight,
        application: this._options.application ?? globalThis.document?.title ?? "",
        userAgent: globalThis.navigator?.userAgent ?? "",
      }),
      decoders: pageDecoders,
      createDisplay: (hooks) => this._clientRendering.wrap(showFrames(hooks), hooks.done),
      areaSize: (width, height) => this._setAreaSize(width, height),
      accepted: () => {
        // The container may have changed while the service calibrated the link: catch up now.
        this._sendContainerSize();
        this._clientRendering.accepted();
      },
      scene: (message) => this._clientRendering.receive(message),
      reconnect: this._options.reconnect,
    });
    this._listeners = {
      ...this._core.listeners,
      resize: new Set(),
      // Named as the input messages' types, which pick the set to ask.
      mouse: new Set(),
      touch: new Set(),
      key: new Set(),
      wheel: new Set(),
    };

    this._view = document.createElement("div");
    this._view.className = "remoteviz-view";
    // tabIndex makes the view focusable, so it gets the keyboard once clicked or tabbed to;
    // touch-action none keeps the browser's panning and zooming off the scene's gestures.
    this._view.tabIndex = 0;
    // "application" tells screen readers to hand keys to the view rather than read the page with them.
    this._view.setAttribute("role", "application");
    Object.assign(this._view.style, { position: "relative", overflow: "hidden", background: "#000", touchAction: "none", userSelect: "none", webkitUserSelect: "none" });
    this._canvas = document.createElement("canvas");
    Object.assign(this._canvas.style, { position: "absolute", display: "block" });
    this._context = this._canvas.getContext("2d", { alpha: false });
    this._view.append(this._canvas);
    element.append(this._view);

    if (this._options.autoResize) {
      Object.assign(this._view.style, { width: "100%", height: "100%" });
      this._containerWidth = this._view.clientWidth;
      this._containerHeight = this._view.clientHeight;
      this._resizeObserver = new ResizeObserver(([entry]) => this._containerResized(entry.contentRect.width, entry.contentRect.height));
      this._resizeObserver.observe(this._view);
    } else {
      Object.assign(this._view.style, { width: `${width}px`, height: `${height}px` });
      this._containerWidth = width;
      this._containerHeight = height;
      this._resizeObserver = null;
    }
    /** The render area size to ask for in `hello`. */
    this._requested = areaSizeFor(this._containerWidth, this._containerHeight, this._pixelRatio());
    this._areaWidth = 0;
    this._areaHeight = 0;
    this._setAreaSize(this._requested.width, this._requested.height);
    // _setAreaSize lays the canvas out only for a real size; an empty container has none yet.
    this._relayout();

    this._input = new InputCapture(this._view, { locate: (event) => this._locate(event), emit: (message, event) => this._emitInput(message, event) });

    this._resizeTimer = null;
    this._overlay = null;
    this._overlayTimer = null;
  }

  // ----------------------------------------------------------------------- connection

  /**
   * Connects to a service. The URL's path names the render area; its query carries parameters
   * for the application (`ws://host:8080/TheCone?token=...&width=800&height=600`). A relative
   * URL or an http(s) one connects to the page's own server on the matching WebSocket scheme.
   * An open connection is closed first.
   * @param {string} url
   */
  connectTo(url) {
    this._core.connectTo(webSocketUrl(url, globalThis.location?.href));
  }

  /** Closes the connection (service listeners hear `disconnected`, DISPOSED) and stops reconnecting. */
  disconnect() {
    this._core.disconnect();
  }

  /**
   * Whether the service accepted the connection and it is open.
   * @returns {boolean}
   */
  isConnected() {
    return this._core.isConnected();
  }

  /**
   * Sends an application message: a string as text, bytes as a binary message.
   * @param {string|Uint8Array|ArrayBuffer} message
   * @returns {boolean} false when not connected
   */
  sendMessage(message) {
    // The application may ask the service about the view (a pick, say): it sees the page's camera first.
    this._clientRendering.flushCamera();
    return this._core.send(typeof message === "string" ? textMessage(message) : binaryMessage(message));
  }

  /**
   * Asks the service for a new render area size; resize listeners hear when it changes. Before
   * connecting, sets the size `hello` asks for.
   * @param {number} width pixels
   * @param {number} height pixels
   * @returns {boolean} whether the request was sent now
   */
  requestRenderAreaSize(width, height) {
    this._requested = { width, height };
    return this._core.send(sizeMessage(width, height));
  }

  /**
   * Resizes the view (the render area's container) in CSS pixels and tells the service. With
   * `autoResize`, a new render area size follows.
   * @param {number} width
   * @param {number} height
   */
  resizeRenderAreaContainer(width, height) {
    Object.assign(this._view.style, { width: `${width}px`, height: `${height}px` });
    // With autoResize the observer sees the change; without it, nothing else would.
    if (!this._resizeObserver) this._containerResized(width, height);
  }

  // ----------------------------------------------------------------------- state

  /** @returns {number} the render area's width in pixels */
  getRenderAreaWidth() {
    return this._areaWidth;
  }

  /** @returns {number} the render area's height in pixels */
  getRenderAreaHeight() {
    return this._areaHeight;
  }

  /** @returns {number} the view's width in CSS pixels */
  getContainerWidth() {
    return this._containerWidth;
  }

  /** @returns {number} the view's height in CSS pixels */
  getContainerHeight() {
    return this._containerHeight;
  }

  /** @returns {string} the display mode */
  getDisplayMode() {
    return this._displayMode;
  }

  /**
   * Changes how the picture is laid out in the view.
   * @param {string} displayMode a {@link DisplayMode}
   */
  setDisplayMode(displayMode) {
    this._displayMode = checkDisplayMode(displayMode);
    this._relayout();
  }

  /** @returns {boolean} whether this browser decodes image frames */
  isImageStreamingSupported() {
    return isImageStreamingSupported();
  }

  /** @returns {boolean} whether this browser decodes video frames (WebCodecs `VideoDecoder` is there) */
  isVideoStreamingSupported() {
    return isVideoStreamingSupported();
  }

  /** @returns {"image"|"video"|null} what the connection streams, from its encoders; null before it is accepted */
  getStreamingMode() {
    return this._core.accepted?.streamingMode ?? null;
  }

  /** @returns {string|null} the connection's id, as the service named it; null before it is accepted */
  getConnectionId() {
    return this._core.accepted?.connectionId ?? null;
  }

  /** @returns {string} the page's client id, shared by all its render areas */
  getClientId() {
    return this._core.accepted?.clientId || pageClientId();
  }

  /**
   * Asks for another way of drawing the view (see the `render` option); service listeners hear
   * `["renderMode", {mode, reason}]` as it changes ("loading", then "client"; or "server"), and
   * `["sceneProgress", {received, total}]` per scene chunk until the full detail is drawn
   * (`complete: true`).
   * @param {"server"|"client"|"auto"} mode
   */
  setRenderMode(mode) {
    this._clientRendering.request(mode, this.isConnected());
  }

  /** @returns {"server"|"loading"|"client"} what draws the view now: the service's frames, or the page */
  getRenderMode() {
    return this._clientRendering.drawnBy;
  }

  /** @returns {HTMLElement} the view: the focusable element that holds the canvas (style it, focus it) */
  getElement() {
    return this._view;
  }

  /** @returns {import("./stats.js").Stats} the streaming statistics */
  getStats() {
    return { ...this._core.stats(), videoInWorker: this._videoDecoders?.inWorker ?? false };
  }

  /**
   * Shows or hides an overlay of frames per second, the interactive scale, input latency, decode time and bandwidth.
   * @param {boolean} [show]
   */
  showStats(show = true) {
    if (show && !this._overlay) {
      this._overlay = document.createElement("div");
      this._overlay.className = "remoteviz-stats";
      Object.assign(this._overlay.style, { position: "absolute", left: "0", top: "0", padding: "2px 6px", font: "11px monospace", color: "#fff", background: "rgba(0,0,0,0.6)", pointerEvents: "none", whiteSpace: "pre" });
      this._view.append(this._overlay);
      const update = () => {
        this._overlay.textContent = formatStats(this.getStats());
      };
      update();
      // A timer rather than updates on each frame, so the figures fall to zero when frames stop.
      this._overlayTimer = setInterval(update, 500);
    } else if (!show && this._overlay) {
      clearInterval(this._overlayTimer);
      this._overlay.remove();
      this._overlay = null;
    }
  }

  /** Disconnects, stops listening and removes the view from the page. */
  dispose() {
    this.disconnect();
    this._clientRendering.dispose();
    this.showStats(false);
    this._input.detach();
    this._resizeObserver?.disconnect();
    clearTimeout(this._resizeTimer);
    this._videoDecoders?.terminate();
    this._view.remove();
  }

  // ----------------------------------------------------------------------- listeners

  /** @param {(event: ServiceEvent) => void} listener told of connection and calibration events */
  addServiceListener(listener) {
    this._listeners.service.add(listener);
  }

  /** @param {(event: ServiceEvent) => void} listener */
  removeServiceListener(listener) {
    this._listeners.service.delete(listener);
  }

  /** @param {(width: number, height: number) => void} listener told of each new render area size */
  addResizeListener(listener) {
    this._listeners.resize.add(listener);
  }

  /** @param {(width: number, height: number) => void} listener */
  removeResizeListener(listener) {
    this._listeners.resize.delete(listener);
  }

  /** @param {(frame: ReceivedFrame) => void} listener told of each frame as it arrives */
  addReceivedFrameListener(listener) {
    this._listeners.receivedFrame.add(listener);
  }

  /** @param {(frame: ReceivedFrame) => void} listener */
  removeReceivedFrameListener(listener) {
    this._listeners.receivedFrame.delete(listener);
  }

  /** @param {(frame: DecodedFrame) => void} listener told of each frame once painted */
  addDecodedFrameListener(listener) {
    this._listeners.decodedFrame.add(listener);
  }

  /** @param {(frame: DecodedFrame) => void} listener */
  removeDecodedFrameListener(listener) {
    this._listeners.decodedFrame.delete(listener);
  }

  /** @param {(message: string|Uint8Array) => void} listener told of each application message from the service */
  addReceivedMessageListener(listener) {
    this._listeners.receivedMessage.add(listener);
  }

  /** @param {(message: string|Uint8Array) => void} listener */
  removeReceivedMessageListener(listener) {
    this._listeners.receivedMessage.delete(listener);
  }

  /** @param {(message: object, event: PointerEvent|MouseEvent) => boolean|void} listener returns false to keep the event from the service */
  addMouseListener(listener) {
    this._listeners.mouse.add(listener);
  }

  /** @param {(message: object, event: PointerEvent|MouseEvent) => boolean|void} listener */
  removeMouseListener(listener) {
    this._listeners.mouse.delete(listener);
  }

  /** @param {(message: object, event: PointerEvent) => boolean|void} listener returns false to keep the event from the service */
  addTouchListener(listener) {
    this._listeners.touch.add(listener);
  }

  /** @param {(message: object, event: PointerEvent) => boolean|void} listener */
  removeTouchListener(listener) {
    this._listeners.touch.delete(listener);
  }

  /** @param {(message: object, event: KeyboardEvent|FocusEvent) => boolean|void} listener returns false to keep the event from the service */
  addKeyListener(listener) {
    this._listeners.key.add(listener);
  }

  /** @param {(message: object, event: KeyboardEvent|FocusEvent) => boolean|void} listener */
  removeKeyListener(listener) {
    this._listeners.key.delete(listener);
  }

  /** @param {(message: object, event: WheelEvent) => boolean|void} listener returns false to keep the event from the service */
  addWheelListener(listener) {
    this._listeners.wheel.add(listener);
  }

  /** @param {(message: object, event: WheelEvent) => boolean|void} listener */
  removeWheelListener(listener) {
    this._listeners.wheel.delete(listener);
  }

  // ----------------------------------------------------------------------- internals

  _pixelRatio() {
    return this._options.pixelRatio ?? globalThis.devicePixelRatio ?? 1;
  }

  // The WebGL canvas, made on first use over the frames' canvas, and the renderer module loaded
  // then: a page that never draws client-side never loads it.
  async _createRenderer() {
    const { WebGLRenderer } = await import("./webgl-renderer.js");
    if (!this._glCanvas) {
      this._glCanvas = document.createElement("canvas");
      Object.assign(this._glCanvas.style, { position: "absolute", display: "none" });
      this._glCanvas.addEventListener("webglcontextlost", (event) => {
        event.preventDefault();
        this._clientRendering.contextLost();
      });
      this._view.append(this._glCanvas);
    }
    this._glCanvas.width = this._canvas.width;
    this._glCanvas.height = this._canvas.height;
    this._relayout();
    return new WebGLRenderer(this._glCanvas);
  }

  _show(drawnBy) {
    const client = drawnBy === DrawnBy.CLIENT;
    if (this._glCanvas) this._glCanvas.style.display = client ? "block" : "none";
    this._canvas.style.visibility = client ? "hidden" : "visible";
  }

  _paint(picture, frame) {
    this._setAreaSize(frame.areaWidth, frame.areaHeight);
    // A picture smaller than the render area (the service downscaled it) is scaled up to it.
    // Only the header's width x height is the picture: H.264 pads odd sizes to even ones.
    this._context.drawImage(picture, 0, 0, frame.width, frame.height, 0, 0, this._canvas.width, this._canvas.height);
  }

  // The render area's size, from accept, resize or the frames themselves (whichever says it
  // first): the canvas has one pixel per render-area pixel.
  _setAreaSize(width, height) {
    if (!(width > 0 && height > 0) || (width === this._areaWidth && height === this._areaHeight)) return;
    this._areaWidth = width;
    this._areaHeight = height;
    this._canvas.width = width;
    this._canvas.height = height;
    if (this._glCanvas) {
      this._glCanvas.width = width;
      this._glCanvas.height = height;
      this._clientRendering.resized();
    }
    this._relayout();
    notifyAll(this._listeners.resize, width, height);
  }

  _relayout() {
    this._layout = computeLayout(this._displayMode, this._containerWidth, this._containerHeight, this._areaWidth, this._areaHeight, this._pixelRatio());
    const { left, top, width, height } = this._layout;
    for (const canvas of [this._canvas, this._glCanvas]) {
      if (canvas) Object.assign(canvas.style, { left: `${left}px`, top: `${top}px`, width: `${width}px`, height: `${height}px` });
    }
  }

  _locate(event) {
    const rect = this._view.getBoundingClientRect();
    // The layout is in the view's own CSS pixels; these ratios undo a CSS transform that scales it.
    const scaleX = rect.width ? this._containerWidth / rect.width : 1;
    const scaleY = rect.height ? this._containerHeight / rect.height : 1;
    return containerToArea(this._layout, (event.clientX - rect.left) * scaleX, (event.clientY - rect.top) * scaleY);
  }

  _emitInput(message, event) {
    if (!notifyAll(this._listeners[message.type], message, event)) return false;
    // While the page draws, its own navigation takes the drags and the wheel.
    if (!this._clientRendering.input(message)) return true;
    return this._core.sendInput(message);
  }

  _containerResized(width, height) {
    if (width === this._containerWidth && height === this._containerHeight) return;
    this._containerWidth = width;
    this._containerHeight = height;
    if (this._options.autoResize) this._requested = areaSizeFor(width, height, this._pixelRatio());
    this._relayout();
    // A dragged window edge resizes many times a second; the service hears of the size it settles at.
    clearTimeout(this._resizeTimer);
    this._resizeTimer = setTimeout(() => this._sendContainerSize(), this._options.resizeDelayMs);
  }

  _sendContainerSize() {
    if (!this.isConnected()) return;
    this._core.send(containerMessage(this._containerWidth, this._containerHeight));
    const { width, height } = this._requested;
    if (this._options.autoResize && (width !== this._areaWidth || height !== this._areaHeight)) {
      this._core.send(sizeMessage(width, height));
    }
  }
}
