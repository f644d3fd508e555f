// The page side of remoteviz.notebook.RenderAreaView (an anywidget ES module): the ordinary
// browser client, loaded from the sources the widget carries, showing one render area.

const loaded = new Map();  // module sources -> blob URL of each module, shared by the page's views

/** A blob URL for module `name` of `sources`, its imports of sibling modules pointing at theirs. */
function moduleUrl(sources, name, urls, pending = new Set()) {
  if (urls.has(name)) return urls.get(name);
  if (pending.has(name)) throw new Error(`remoteviz: circular import of ${name}`);
  pending.add(name);
  const text = sources[name].replace(/(from\s*)"\.\/([\w.-]+\.js)"/g, (whole, head, dependency) =>
    dependency in sources ? `${head}"${moduleUrl(sources, dependency, urls, pending)}"` : whole);
  const url = URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
  urls.set(name, url);
  return url;
}

async function loadClient(sources) {
  const key = JSON.stringify(Object.keys(sources).map((name) => [name, sources[name].length]));
  if (!loaded.has(key)) loaded.set(key, import(moduleUrl(sources, "remoteviz.js", new Map())));
  return loaded.get(key);
}

async function render({ model, el }) {
  const { RemoteVizRenderArea } = await loadClient(model.get("modules"));
  const box = document.createElement("div");
  box.className = "remoteviz-notebook-view";
  const status = document.createElement("div");
  status.className = "remoteviz-notebook-status";
  status.style.cssText = "font: 12px monospace; color: #666; padding-top: 2px";
  status.textContent = "connecting…";
  el.append(box, status);
  const area = new RemoteVizRenderArea(box, model.get("width"), model.get("height"));
  area.addServiceListener((event) => {
    if (event[0] === "connected") status.textContent = `${event[1].renderAreaId}: connected`;
    if (event[0] === "disconnected") status.textContent = `disconnected: ${event[1]} ${event[2] || ""}`;
    if (event[0] === "error") status.textContent = `error: ${event[1]}`;
    if (event[0] === "failure") status.textContent = `the service cannot ${event[1].stage} frames: ${event[1].detail}`;
  });
  area.connectTo(model.get("url"));
  return () => area.dispose();
}

export default { render };
