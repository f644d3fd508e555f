import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";

const root = new URL("../", import.meta.url);
const src = new URL("src/", root);
const read = (url) => readFileSync(url, "utf8");

test("the entry module exports the public names, and sets the global for classic scripts", async () => {
  const module = await import("../src/remoteviz.js");
  assert.deepEqual(Object.keys(module).sort(), ["DisconnectReason", "DisplayMode", "PROTOCOL_VERSION", "RemoteVizRenderArea"]);
  assert.equal(globalThis.RemoteVizRenderArea, module.RemoteVizRenderArea);
  assert.equal(module.RemoteVizRenderArea.DisplayMode, module.DisplayMode);
});

test("remoteviz.d.ts declares every export and every public method", async () => {
  const declarations = read(new URL("remoteviz.d.ts", root));
  const module = await import("../src/remoteviz.js");
  for (const name of Object.keys(module)) {
    assert.match(declarations, new RegExp(`export declare (const|class) ${name}\\b`), name);
  }
  const methods = Object.getOwnPropertyNames(module.RemoteVizRenderArea.prototype).filter((name) => name !== "constructor" && !name.startsWith("_"));
  assert.ok(methods.length > 30);
  for (const name of methods) assert.match(declarations, new RegExp(`\\n  ${name}\\(`), name);
});

test("package.json points at files that exist", () => {
  const pkg = JSON.parse(read(new URL("package.json", root)));
  assert.equal(pkg.name, "remoteviz-client");
  assert.equal(pkg.type, "module");
  const targets = [pkg.types, pkg.main, ...Object.values(pkg.exports).flatMap((target) => (typeof target === "string" ? [target] : Object.values(target)))];
  for (const target of targets) assert.ok(existsSync(new URL(target, root)), target);
});

test("src has no dependencies: every import is a relative path to a file beside it", () => {
  let imports = 0;
  for (const file of readdirSync(src).filter((name) => name.endsWith(".js"))) {
    for (const [, specifier] of read(new URL(file, src)).matchAll(/^(?:import|export)\s[^;]*?from\s+"([^"]+)"/gm)) {
      assert.match(specifier, /^\.\/[\w-]+\.js$/, `${file} imports ${specifier}`);
      assert.ok(existsSync(new URL(specifier, src)), `${file} imports missing ${specifier}`);
      imports += 1;
    }
  }
  assert.ok(imports > 10, "the pattern finds the imports");
});

test("the classic loader loads the module that sits beside it", () => {
  const loader = read(new URL("RemoteVizClient.js", src));
  assert.doesNotMatch(loader, /^\s*(import|export)\s/m, "a classic script cannot use module syntax");
  const [, target] = /new URL\("([^"]+)", document\.currentScript\.src\)/.exec(loader);
  assert.ok(existsSync(new URL(target, src)), target);
  assert.match(loader, /script\.type = "module"/);
});
