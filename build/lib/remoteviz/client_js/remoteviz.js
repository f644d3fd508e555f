/**
 * remoteviz's browser client: show a render area streamed from a remoteviz service.
 *
 * As an ES module: `import { RemoteVizRenderArea } from "/remoteviz/remoteviz.js"`. Loading it
 * also sets `globalThis.RemoteVizRenderArea`, which is what `RemoteVizClient.js` (the classic
 * `<script>` loader) relies on.
 * @module remoteviz
 */

import { RemoteVizRenderArea } from "./render-area.js";

export { RemoteVizRenderArea } from "./render-area.js";
export { DisplayMode } from "./layout.js";
export { DisconnectReason, PROTOCOL_VERSION } from "./protocol.js";

globalThis.RemoteVizRenderArea = RemoteVizRenderArea;
