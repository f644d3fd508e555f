// The built-in page's toolbar: views, projection, display style, clip plane, colour map, the model
// tree, the measuring tools, screenshot and recording, and their keyboard shortcuts (? shows them).
// It appears once the service says its viewer tools are attached (a viewer.state message), so a
// service without them keeps the plain page.

import { ViewerChannel } from "./channel.js";
import { download, fileName, Recorder } from "./capture.js";
import { ModelTree } from "./tree.js";

/** The colour maps offered for scalar fields (the service's names). */
export const COLORMAPS = ["viridis", "plasma", "inferno", "cividis", "turbo", "coolwarm", "grey"];

/**
 * The keyboard shortcuts: key (as KeyboardEvent.key names it) -> [what it does, action name].
 * docs/guide.md lists the same table.
 */
export const SHORTCUTS = [
  ["?", "show or hide this help", "help"],
  ["h", "home view", "view:home"],
  ["f", "frame the whole scene", "fit"],
  ["1", "front view", "view:front"],
  ["2", "top view", "view:top"],
  ["3", "right side view", "view:right"],
  ["4", "isometric view", "view:iso"],
  ["o", "perspective / orthographic", "projection"],
  ["s", "surfaces", "style:surface"],
  ["w", "wireframe", "style:wireframe"],
  ["e", "surfaces with edges", "style:edges"],
  ["c", "clip plane on / off", "clip"],
  ["t", "model tree", "tree"],
  ["n", "navigate (no tool)", "tool:navigate"],
  ["x", "select a part by clicking it", "tool:select"],
  ["p", "point coordinates", "tool:point"],
  ["d", "distance between two points", "tool:distance"],
  ["a", "angle of three points (at the second)", "tool:angle"],
  ["Delete", "remove the measuring marks", "clear"],
  ["g", "save a screenshot (PNG)", "screenshot"],
  ["r", "start / stop a recording", "record"],
];

const VIEW_LABELS = { home: "Home", front: "Front", back: "Back", left: "Left", right: "Right", top: "Top", bottom: "Bottom", iso: "Iso" };

/**
 * Adds the toolbar, the tree panel and the shortcuts to a page showing `renderArea` in `container`.
 * @returns {{channel: ViewerChannel, run: (action: string) => void}} for the console and tests
 */
export function installViewerTools(renderArea, container, { areaId = "view" } = {}) {
  const channel = new ViewerChannel(renderArea);
  let state = null;
  let tool = "navigate";

  // Laid over the view rather than beside it, so that the view (and the render area) keeps its
  // size when the toolbar appears; what the overlay does not cover passes pointer events through.
  const overlay = document.createElement("div");
  overlay.id = "rv-overlay";
  const bar = document.createElement("div");
  bar.id = "rv-toolbar";
  bar.hidden = true;
  const panel = document.createElement("div");
  panel.id = "rv-tree-panel";
  panel.hidden = true;
  overlay.append(bar, panel);
  container.append(overlay);
  new ModelTree(panel, channel);

  // Two lines in the view's corner: what the last click gave (kept until the next), and what lies
  // under the hovering pointer while measuring.
  const readout = document.createElement("div");
  readout.id = "rv-readout";
  readout.hidden = true;
  const result = Object.assign(document.createElement("div"), { id: "rv-result" });
  const probe = Object.assign(document.createElement("div"), { id: "rv-probe" });
  readout.append(result, probe);
  container.append(readout);

  const help = document.createElement("div");
  help.id = "rv-help";
  help.hidden = true;
  help.innerHTML = "<h3>Keyboard shortcuts</h3>";
  const table = document.createElement("table");
  for (const [key, text] of SHORTCUTS) {
    const row = table.insertRow();
    row.insertCell().append(Object.assign(document.createElement("kbd"), { textContent: key }));
    row.insertCell().textContent = text;
  }
  help.append(table, Object.assign(document.createElement("p"), {
    textContent: "Drag to turn, shift-drag or middle-drag to pan, wheel or right-drag to zoom. Escape passes events to the scene.",
  }));
  container.append(help);

  const recorder = Recorder.supported() ? new Recorder(renderArea.getElement().querySelector("canvas"), (on) => {
    recordButton.classList.toggle("rv-on", on);
    recordButton.textContent = on ? "■ Stop" : "● Rec";
  }) : null;

  const show = (text, line = result) => {
    line.textContent = text;
    line.hidden = !text;
    readout.hidden = !result.textContent && !probe.textContent;
  };

  const actions = {
    help: () => { help.hidden = !help.hidden; },
    fit: () => channel.send("fit", { node: null }),
    projection: () => channel.send("projection", { projection: state?.projection === "orthographic" ? "perspective" : "orthographic" }),
    clip: () => channel.send("clip", { on: !state?.clip?.on }),
    tree: () => {
      panel.hidden = !panel.hidden;
      if (!panel.hidden) channel.send("tree");
      treeButton.classList.toggle("rv-on", !panel.hidden);
    },
    clear: () => { channel.send("clear"); show(""); show("", probe); },
    screenshot: () => channel.send("screenshot"),
    record: () => {
      if (!recorder) return show("this browser cannot record the view");
      if (recorder.recording) recorder.stop();
      else recorder.start((blob, extension) => download(blob, blob.type, fileName(areaId, extension)));
    },
  };
  const run = (name) => {
    const [verb, argument] = name.split(":");
    if (verb === "view") channel.send("view", { view: argument });
    else if (verb === "style") channel.send("style", { style: argument });
    else if (verb === "tool") channel.send("tool", { tool: argument });
    else actions[verb]?.();
  };

  // ---- the bar
  const group = (...children) => {
    const element = document.createElement("span");
    element.className = "rv-group";
    element.append(...children);
    return element;
  };
  const button = (text, title, action, name = "") => {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = text;
    element.title = title;
    if (name) element.dataset.action = name;
    element.onclick = () => { run(action); renderArea.getElement().focus(); };
    return element;
  };
  const select = (title, options, onChange) => {
    const element = document.createElement("select");
    element.title = title;
    for (const [value, label] of options) element.add(new Option(label, value));
    element.onchange = () => { onChange(element.value); renderArea.getElement().focus(); };
    return element;
  };

  const views = select("Standard views", [], (value) => run(`view:${value}`));
  const projection = select("Projection (o)", [["perspective", "Perspective"], ["orthographic", "Orthographic"]],
    (value) => channel.send("projection", { projection: value }));
  const style = select("Display style (s, w, e)", [["surface", "Surface"], ["wireframe", "Wireframe"], ["edges", "Surface + edges"]],
    (value) => channel.send("style", { style: value }));
  const clip = document.createElement("input");
  clip.type = "checkbox";
  clip.title = "Clip plane (c)";
  clip.onchange = () => channel.send("clip", { on: clip.checked });
  const clipPosition = document.createElement("input");
  Object.assign(clipPosition, { type: "range", min: "0", max: "1", step: "0.01", value: "0.5", title: "Where the clip plane cuts" });
  clipPosition.oninput = () => channel.send("clip", { on: true, position: Number(clipPosition.value) });
  const clipLabel = document.createElement("label");
  clipLabel.append(clip, " Clip ", clipPosition);

  const tools = select("Tool: what a click does (n, x, p, d, a)", [
    ["navigate", "Navigate"], ["select", "Select"], ["point", "Point"], ["distance", "Distance"], ["angle", "Angle"],
  ], (value) => channel.send("tool", { tool: value }));

  const colormap = group(
    select("Colour map", COLORMAPS.map((name) => [name, name]), () => sendColormap()),
    Object.assign(document.createElement("input"), { type: "number", placeholder: "min", title: "Lowest value (empty: automatic)", className: "rv-range" }),
    Object.assign(document.createElement("input"), { type: "number", placeholder: "max", title: "Highest value (empty: automatic)", className: "rv-range" }),
    Object.assign(document.createElement("label"), { textContent: " log" }),
  );
  colormap.id = "rv-colormap";
  const logScale = Object.assign(document.createElement("input"), { type: "checkbox", title: "Logarithmic scale" });
  colormap.lastChild.prepend(logScale);
  const [mapSelect, low, high] = colormap.querySelectorAll("select, input.rv-range");
  const sendColormap = () => {
    const range = low.value !== "" && high.value !== "" ? [Number(low.value), Number(high.value)] : null;
    channel.sendRaw({ type: "colormap", node: null, colormap: mapSelect.value, range, log: logScale.checked });
  };
  for (const input of [low, high, logScale]) input.onchange = sendColormap;
  colormap.hidden = true;

  const treeButton = button("☰ Tree", "Model tree (t)", "tree", "tree");
  const recordButton = button("● Rec", "Start or stop a recording (r)", "record", "record");
  bar.append(
    treeButton,
    group(button("⌂", "Home view (h)", "view:home", "home"), views, button("Fit", "Frame the whole scene (f)", "fit", "fit")),
    group(projection, style, clipLabel),
    colormap,
    group(tools, button("Clear", "Remove the measuring marks (Delete)", "clear", "clear")),
    group(button("PNG", "Save a screenshot (g)", "screenshot", "screenshot"), recordButton),
    button("?", "Keyboard shortcuts (?)", "help", "help"),
  );

  // ---- what the service says
  channel.on("state", (message) => {
    state = message;
    bar.hidden = false;
    if (views.options.length === 0) {
      views.add(Object.assign(new Option("Views…", ""), { disabled: true }));
      for (const view of message.views) views.add(new Option(VIEW_LABELS[view] || view, view));
    }
    views.selectedIndex = 0; // a view is an action, not a lasting choice
    projection.value = message.projection;
    style.value = message.style;
    tools.value = message.tool;
    clip.checked = message.clip.on;
    clipPosition.value = String(message.clip.position);
    colormap.hidden = !message.scalars;
    if (message.tool !== tool) {  // a new tool: say what to do with it
      tool = message.tool;
      show({ point: "click a point", distance: "click the first point", angle: "click the first point",
             select: "click a part" }[tool] || "");
      show("", probe);
    }
  });
  const format = (point) => `(${point.map((c) => c.toPrecision(5)).join(", ")})`;
  channel.on("measure", (message) => {
    if (!message.done) {
      const next = message.tool === "angle" && message.points.length === 1 ? "the vertex" : "the next point";
      show(`${format(message.points[message.points.length - 1])}: now click ${next}`);
    } else if (message.tool === "distance") {
      show(`distance ${message.distance.toPrecision(6)} from ${format(message.points[0])} to ${format(message.points[1])}`);
    } else if (message.tool === "angle") {
      show(`angle ${message.angle.toPrecision(5)}° at ${format(message.points[1])}`);
    } else {
      show(`point ${format(message.points[0])}` + (message.value != null ? ` value ${message.value.toPrecision(6)}` : ""));
    }
  });
  channel.on("probe", (message) => {
    show(message.point ? `under the pointer: ${message.name || "point"} ${format(message.point)}`
      + (message.value != null ? ` value ${message.value.toPrecision(6)}` : "") : "", probe);
  });
  channel.on("selected", (message) => show(message.node === null ? "" : `selected ${message.name || message.node}`));
  channel.on("error", (message) => show(`the viewer could not do that: ${message.message}`));
  channel.on("screenshot", (message) => download(message.data, "image/png", fileName(areaId, "png")));

  // ---- keys: on the view (kept from the service when they are shortcuts) and elsewhere on the page
  const byKey = new Map(SHORTCUTS.map(([key, , action]) => [key, action]));
  const shortcut = (key, modifiers) => (modifiers ? undefined : byKey.get(key === "Home" ? "h" : key));
  renderArea.addKeyListener((message, event) => {
    if (!state) return true;
    const action = shortcut(message.key, event.ctrlKey || event.altKey || event.metaKey);
    if (!action) return true;
    if (message.action === "down") run(action);
    return false;
  });
  document.addEventListener("keydown", (event) => {
    if (!state || renderArea.getElement().contains(event.target)) return;
    if (event.target.closest?.("input, select, textarea")) return;
    const action = shortcut(event.key, event.ctrlKey || event.altKey || event.metaKey);
    if (action) {
      event.preventDefault();
      run(action);
    }
  });

  return { channel, run };
}
