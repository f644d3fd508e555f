"""Notebook views, straight to the kernel's service against through Jupyter's widget channel.

Starts JupyterLab on loopback, opens a notebook of one cell (a cone in a 480 x 360 view) in
headless Chromium, and measures the view while the mouse drags in circles, then one small move a
second: frames painted per second, and input-to-picture latency (a pointer move on the view to the
next picture painted on its canvas). Once with the page reaching the kernel's port ("direct"), once
with that port closed to the page ("relayed": the view falls back to the widget channel, the
kernel relaying each message). Prints a table and writes JSON under ``benchmarks/results/``.

The browser, JupyterLab, the kernel and its rendering share this machine's cores, so the figures
are pessimistic, and compare only with each other within one run.

    python -m benchmarks.notebook_channel [--seconds 5] [--moves 8]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from playwright.sync_api import Page, sync_playwright

RESULTS = Path(__file__).resolve().parent / "results"
TOKEN = "benchmark"
CELL = """import remoteviz as rv
from remoteviz import notebook
service = notebook.start()
area = service.create_render_area("TheCone", 480, 360)
examiner = rv.SceneExaminer([rv.GradientBackground(), rv.Material(), rv.Cone()])
area.scene_manager.scene_graph = examiner
examiner.view_all(area.viewport)
area"""

# Records each picture the notebook view paints, with the client's own input-to-picture latency
# (the frame names the last input it shows). Both copies of the client (direct, relayed) set the
# global RemoteVizRenderArea as they load: each one's connectTo is wrapped to listen first.
INSTRUMENT = """
(() => {
  const stats = { painted: [] };
  window.__bench = stats;
  let current;
  Object.defineProperty(globalThis, "RemoteVizRenderArea", {
    configurable: true,
    get() { return current; },
    set(value) {
      current = value;
      const connectTo = value.prototype.connectTo;
      value.prototype.connectTo = function (url) {
        this.addDecodedFrameListener((frame) => stats.painted.push(
          { t: performance.now(), still: frame.still, latency: frame.inputLatencyMs }));
        return connectTo.call(this, url);
      };
    },
  });
})();
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def measure(page: Page, seconds: float, moves: int) -> dict[str, Any]:
    box = page.locator(".remoteviz-view").first.bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx + 60, cy)
    page.mouse.down()
    page.evaluate("window.__bench.painted = []")
    started = time.monotonic()
    step = 0
    while time.monotonic() - started < seconds:
        angle = step * 0.15
        page.mouse.move(cx + 60 * math.cos(angle), cy + 60 * math.sin(angle))
        step += 1
        page.wait_for_timeout(16)
    elapsed = time.monotonic() - started
    drag = page.evaluate("window.__bench.painted")
    page.mouse.up()
    page.wait_for_timeout(1500)
    page.evaluate("window.__bench.painted = []")
    for index in range(moves):
        page.mouse.down()
        page.mouse.move(cx + 60 + (index % 2) * 8, cy + 4)
        page.mouse.up()
        page.wait_for_timeout(1000)
    isolated = [f["latency"] for f in page.evaluate("window.__bench.painted") if f["latency"] is not None]
    dragged = [f["latency"] for f in drag if f["latency"] is not None]
    return {"fps": len([f for f in drag if not f["still"]]) / elapsed,
            "drag_p50_ms": statistics.median(dragged) if dragged else None,
            "isolated_p50_ms": statistics.median(isolated) if isolated else None,
            "isolated_samples": len(isolated)}


def run(path: str, seconds: float, moves: int) -> dict[str, Any]:
    """One measurement; ``path`` is "direct" or "relayed"."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "bench.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(CELL)], metadata={"kernelspec": {
                "name": "python3", "display_name": "Python 3", "language": "python"}})))
        port = free_port()
        env = {"JUPYTER_CONFIG_DIR": str(root / "config"), "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
               "JUPYTER_PLATFORM_DIRS": "1", "PYOPENGL_PLATFORM": "egl", "EGL_PLATFORM": "surfaceless"}
        lab = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ip=127.0.0.1",
                                f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
                                f"--ServerApp.root_dir={root}", "--LabApp.news_url=None"],
                               cwd=root, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.add_init_script(INSTRUMENT)
                if path == "relayed":
                    page.route_web_socket(re.compile(rf"^wss?://127\.0\.0\.1:(?!{port}/)\d+/"),
                                          lambda route: route.close())
                deadline = time.monotonic() + 120
                while True:
                    try:
                        page.goto(f"http://127.0.0.1:{port}/lab/tree/bench.ipynb?token={TOKEN}")
                        break
                    except Exception:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(1)
                # JupyterLab may ask which kernel to start: accept its choice.
                page.wait_for_selector(".jp-Dialog .jp-mod-accept, .jp-Notebook-ExecutionIndicator[data-status='idle']",
                                       timeout=120_000)
                for _ in range(10):
                    accept = page.locator(".jp-Dialog .jp-mod-accept")
                    if accept.count():
                        accept.first.click()
                    page.wait_for_timeout(300)
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_text("Run All Cells", exact=True).click()
                expected = "TheCone: connected" + (" through Jupyter" if path == "relayed" else "")
                page.wait_for_function(f"document.querySelector('.remoteviz-notebook-status')?.textContent === "
                                       f"'{expected}'", timeout=120_000)
                page.wait_for_timeout(1500)
                result = measure(page, seconds, moves)
                browser.close()
        finally:
            lab.terminate()
            lab.wait(timeout=30)
    return {"path": path, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the drag in circles lasts")
    parser.add_argument("--moves", type=int, default=8, help="isolated moves, one a second")
    args = parser.parse_args()
    rows = [run(path, args.seconds, args.moves) for path in ("direct", "relayed")]
    print(f"{'path':<8} {'fps':>6} {'drag p50 ms':>12} {'isolated p50 ms':>16}")
    for row in rows:
        drag = "-" if row["drag_p50_ms"] is None else f"{row['drag_p50_ms']:.0f}"
        isolated = "-" if row["isolated_p50_ms"] is None else f"{row['isolated_p50_ms']:.0f}"
        print(f"{row['path']:<8} {row['fps']:>6.1f} {drag:>12} {isolated:>16}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "notebook_channel.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
