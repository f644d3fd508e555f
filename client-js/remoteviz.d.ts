// Type declarations for remoteviz's browser client (src/remoteviz.js).

/** How the render area's picture is shown in its container. */
export declare const DisplayMode: {
  /** Scaled to fit the container whole, keeping its aspect ratio; bars fill the rest (default). */
  readonly FIT: "FIT";
  /** Shown at its own size (one render-area pixel per device pixel), centred, cropped by the container. */
  readonly CROP: "CROP";
  /** Scaled to fill the container exactly, whatever the aspect ratio. */
  readonly STRETCH: "STRETCH";
};
export type DisplayMode = (typeof DisplayMode)[keyof typeof DisplayMode];

/** Why a connection ended. */
export declare const DisconnectReason: {
  readonly DISPOSED: "DISPOSED";
  readonly REFUSED: "REFUSED";
  readonly KICKED: "KICKED";
  readonly NETWORKFAILURE: "NETWORKFAILURE";
};
export type DisconnectReason = (typeof DisconnectReason)[keyof typeof DisconnectReason];

/** The protocol version this client speaks. */
export declare const PROTOCOL_VERSION: 1;

export interface ReconnectOptions {
  /** The first delay, doubled on every failed attempt (default 500). */
  baseMs?: number;
  /** The longest delay (default 30000). */
  maxMs?: number;
  /** Attempts in a row before giving up (default Infinity). */
  maxAttempts?: number;
}

export interface RenderAreaOptions {
  /** Make the view fill the container element and follow its size, asking for a matching render area size. */
  autoResize?: boolean;
  /** Reconnect with backoff after a network failure. */
  reconnect?: boolean | ReconnectOptions;
  /** Device pixels per CSS pixel for the requested render area size (default devicePixelRatio). */
  pixelRatio?: number;
  /** The application name the service is told (default document.title). */
  application?: string;
  /** How long the container must stay still before the service hears of a new size (default 150). */
  resizeDelayMs?: number;
  /** Decode video in a worker, off the page's main thread, where the browser can (default true). */
  videoWorker?: boolean;
  /**
   * Who draws the view: the service ("server", default), the page with WebGL2 ("client"), or the
   * service's choice ("auto"). The application must allow client-side rendering, else frames go on.
   */
  render?: "server" | "client" | "auto";
}

export interface ConnectedInfo {
  connectionId: string;
  clientId: string;
  renderAreaId: string;
  width: number;
  height: number;
  stillEncoder: string;
  interactiveEncoder: string;
  streamingMode: "image" | "video";
}

/** Why the service cannot make frames for a view now. */
export interface FailureInfo {
  stage: "render" | "encode" | (string & {});
  detail: string;
  retryMs: number;
}

/** A service notification: the event name, then its details. */
export type ServiceEvent =
  | ["connected", ConnectedInfo]
  | ["disconnected", DisconnectReason, string]
  | ["reconnecting", number, number]
  | ["error", string]
  /** The service cannot make frames now (it retries after retryMs); the next frame means it works again. */
  | ["failure", FailureInfo]
  /** Who draws the view now: "loading" (the scene is on its way, frames still show), "client" or "server". */
  | ["renderMode", { mode: "server" | "loading" | "client"; reason: string }]
  /** While the scene loads for client-side rendering: deflated bytes received and announced so far. */
  | ["sceneProgress", { received: number; total: number }]
  | ["startNetworkCalibration" | "pendingNetworkCalibration" | "finishedNetworkCalibration" | (string & {}), Record<string, unknown>];

export type Codec = "jpeg" | "png" | "h264" | "vp9" | "av1";

export interface ReceivedFrame {
  id: number;
  /** Of the encoded picture. */
  width: number;
  height: number;
  codec: Codec;
  still: boolean;
  key: boolean;
  /** What the application attached to the frame. */
  text: string;
  byteLength: number;
}

export interface DecodedFrame {
  id: number;
  codec: Codec;
  /** True for PNG frames. */
  lossless: boolean;
  still: boolean;
  text: string;
  /** Decode and paint time. */
  decodeMs: number;
  /** Time from sending the input this frame first shows to painting it. */
  inputLatencyMs: number | null;
}

export interface Stats {
  fps: number;
  /** Bytes received per second. */
  bandwidth: number;
  inputLatencyMs: number | null;
  decodeMs: number | null;
  codec: Codec | null;
  framesReceived: number;
  framesPainted: number;
  /** Frames acknowledged without being shown. */
  framesDropped: number;
  /** True while video is decoded in a worker (false: on the main thread). */
  videoInWorker: boolean;
  /** The last interactive frame's picture width over the render area's: 1 at full size, below 1
   * when the service sent it smaller (for its link or its render cost) and it was scaled up. */
  interactiveScale: number;
}

export interface MouseMessage {
  type: "mouse";
  action: "down" | "up" | "move" | "dblclick" | "enter" | "leave";
  x: number;
  y: number;
  button: number;
  buttons: number;
  mods: number;
}
export interface WheelMessage {
  type: "wheel";
  x: number;
  y: number;
  /** Lines, positive towards the user. */
  delta: number;
  mods: number;
}
export interface KeyMessage {
  type: "key";
  action: "down" | "up";
  x: number;
  y: number;
  key: string;
  mods: number;
}
export interface TouchMessage {
  type: "touch";
  action: "start" | "move" | "end" | "cancel";
  id: number;
  x: number;
  y: number;
}

/** Return false to keep the event from the service. */
export type InputListener<M, E extends Event> = (message: M, event: E) => boolean | void;

/** A render area shown in a page element and streamed from a remoteviz service. */
export declare class RemoteVizRenderArea {
  static readonly DisplayMode: typeof DisplayMode;

  /**
   * @param container the element to show the render area in, or its id
   * @param width the view's width in CSS pixels (ignored with autoResize)
   * @param height the view's height in CSS pixels (ignored with autoResize)
   */
  constructor(container: HTMLElement | string, width: number, height: number, displayMode?: DisplayMode, options?: RenderAreaOptions);

  /** Connects to `ws(s)://host:port/RENDER_AREA_ID?params`; relative and http(s) URLs go to the page's server. */
  connectTo(url: string): void;
  disconnect(): void;
  isConnected(): boolean;
  sendMessage(message: string | Uint8Array | ArrayBuffer): boolean;
  requestRenderAreaSize(width: number, height: number): boolean;
  resizeRenderAreaContainer(width: number, height: number): void;
  getRenderAreaWidth(): number;
  getRenderAreaHeight(): number;
  getContainerWidth(): number;
  getContainerHeight(): number;
  getDisplayMode(): DisplayMode;
  setDisplayMode(displayMode: DisplayMode): void;
  isImageStreamingSupported(): boolean;
  isVideoStreamingSupported(): boolean;
  getStreamingMode(): "image" | "video" | null;
  getConnectionId(): string | null;
  getClientId(): string;
  getElement(): HTMLElement;
  /** Asks for another way of drawing the view (see the `render` option). */
  setRenderMode(mode: "server" | "client" | "auto"): void;
  /** What draws the view now: the service's frames, the page, or the page while the scene loads. */
  getRenderMode(): "server" | "loading" | "client";
  getStats(): Stats;
  showStats(show?: boolean): void;
  dispose(): void;

  addServiceListener(listener: (event: ServiceEvent) => void): void;
  removeServiceListener(listener: (event: ServiceEvent) => void): void;
  addResizeListener(listener: (width: number, height: number) => void): void;
  removeResizeListener(listener: (width: number, height: number) => void): void;
  addReceivedFrameListener(listener: (frame: ReceivedFrame) => void): void;
  removeReceivedFrameListener(listener: (frame: ReceivedFrame) => void): void;
  addDecodedFrameListener(listener: (frame: DecodedFrame) => void): void;
  removeDecodedFrameListener(listener: (frame: DecodedFrame) => void): void;
  addReceivedMessageListener(listener: (message: string | Uint8Array) => void): void;
  removeReceivedMessageListener(listener: (message: string | Uint8Array) => void): void;
  addMouseListener(listener: InputListener<MouseMessage, PointerEvent | MouseEvent>): void;
  removeMouseListener(listener: InputListener<MouseMessage, PointerEvent | MouseEvent>): void;
  addTouchListener(listener: InputListener<TouchMessage, PointerEvent>): void;
  removeTouchListener(listener: InputListener<TouchMessage, PointerEvent>): void;
  addKeyListener(listener: InputListener<KeyMessage, KeyboardEvent | FocusEvent>): void;
  removeKeyListener(listener: InputListener<KeyMessage, KeyboardEvent | FocusEvent>): void;
  addWheelListener(listener: InputListener<WheelMessage, WheelEvent>): void;
  removeWheelListener(listener: InputListener<WheelMessage, WheelEvent>): void;
}

type RemoteVizRenderAreaClass = typeof RemoteVizRenderArea;

declare global {
  /** Set when remoteviz.js loads, for classic scripts. */
  var RemoteVizRenderArea: RemoteVizRenderAreaClass;
  /** Set by RemoteVizClient.js: resolves to the class once the module has loaded. */
  var remoteVizReady: Promise<RemoteVizRenderAreaClass> | undefined;
}
