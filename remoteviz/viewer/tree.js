// The model tree panel of the built-in page: the scene's groups and shapes as the service lists
// them (viewer.tree), with visibility toggles, isolate, fit-to-part and selection.

/**
 * @param {HTMLElement} panel the element to fill
 * @param {import("./channel.js").ViewerChannel} channel
 */
export class ModelTree {
  constructor(panel, channel) {
    this.panel = panel;
    this.channel = channel;
    this.selected = null;
    this._collapsed = new Set();
    this._nodes = [];
    channel.on("tree", (message) => {
      this._nodes = message.nodes;
      this._truncated = message.truncated;
      this.render();
    });
    channel.on("state", (state) => {
      if (state.selected !== this.selected) {
        this.selected = state.selected;
        this.render();
      }
    });
    channel.on("selected", (message) => {
      this.selected = message.node;
      this.render();
    });
  }

  render() {
    const panel = this.panel;
    panel.replaceChildren();
    const header = document.createElement("div");
    header.className = "rv-tree-header";
    header.append(
      button("show all", "Show every part again", () => this.channel.send("isolate", { node: null })),
      button("fit all", "Frame the whole scene (f)", () => this.channel.send("fit", { node: null })),
      button("↻", "Read the tree again", () => this.channel.send("tree")),
    );
    panel.append(header);
    const list = document.createElement("ul");
    list.className = "rv-tree";
    for (const node of this._nodes) list.append(this._item(node));
    panel.append(list);
    if (this._truncated) {
      const note = document.createElement("div");
      note.className = "rv-tree-note";
      note.textContent = "(more nodes than the tree shows)";
      panel.append(note);
    }
  }

  _item(node) {
    const item = document.createElement("li");
    const row = document.createElement("div");
    row.className = "rv-tree-row" + (node.id === this.selected ? " rv-selected" : "");
    row.dataset.node = node.id;
    const hasChildren = node.children && node.children.length > 0;
    const caret = document.createElement("span");
    caret.className = "rv-caret";
    caret.textContent = hasChildren ? (this._collapsed.has(node.id) ? "▸" : "▾") : "";
    caret.onclick = () => {
      if (!hasChildren) return;
      if (this._collapsed.has(node.id)) this._collapsed.delete(node.id);
      else this._collapsed.add(node.id);
      this.render();
    };
    const visible = document.createElement("input");
    visible.type = "checkbox";
    visible.checked = node.visible;
    visible.title = "Show or hide";
    visible.onchange = () => this.channel.send("visibility", { node: node.id, visible: visible.checked });
    const label = document.createElement("span");
    label.className = "rv-name";
    label.textContent = node.name || `(${node.kind})`;
    label.title = `${node.kind} ${node.id}: click to select`;
    label.onclick = () => this.channel.send("select", { node: node.id === this.selected ? null : node.id });
    row.append(caret, visible, label,
      button("◎", "Isolate: show this part alone", () => this.channel.send("isolate", { node: node.id })),
      button("⤢", "Fit: frame this part", () => this.channel.send("fit", { node: node.id })));
    item.append(row);
    if (hasChildren && !this._collapsed.has(node.id)) {
      const children = document.createElement("ul");
      for (const child of node.children) children.append(this._item(child));
      item.append(children);
    }
    return item;
  }
}

function button(text, title, action) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.title = title;
  element.onclick = action;
  return element;
}
