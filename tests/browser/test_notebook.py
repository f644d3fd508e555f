"""The notebook example for real: JupyterLab on loopback, the notebook run in its kernel from the
page in headless Chromium, the cell's view showing the cone (coloured by a later cell) and turning
on a drag, with a second view of the same render area following."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, WebSocketRoute

from ..processes import ROOT, service_process
from .helpers import changed_fraction

NOTEBOOK = ROOT / "examples" / "notebook" / "hello_notebook.ipynb"
TOKEN = "remoteviz-test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def view_image(page: Page, index: int) -> np.ndarray:
    url = page.evaluate(f"document.querySelectorAll('.remoteviz-view canvas')[{index}].toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")).astype(int)


def settled_image(page: Page, index: int, unlike: np.ndarray | None = None,
                  until: Callable[[np.ndarray], bool] = lambda image: True, timeout: float = 60.0) -> np.ndarray:
    """The view's picture once it stays the same for half a second, differs from ``unlike`` and
    satisfies ``until`` (the kernel sends a scene change's frame only once it is between cells)."""
    deadline = time.monotonic() + timeout
    previous = None
    while time.monotonic() < deadline:
        image = view_image(page, index)
        fresh = unlike is None or image.shape != unlike.shape or changed_fraction(unlike, image) > 0.01
        if (previous is not None and fresh and image.shape == previous.shape and not np.any(image != previous)
                and until(image)):
            return image
        previous = image
        time.sleep(0.5)
    raise AssertionError(f"view {index} did not settle in {timeout} s")


WIDGET_SETTINGS = Path("lab", "user-settings", "@jupyter-widgets", "jupyterlab-manager", "plugin.jupyterlab-settings")


def run_the_notebook(tmp_path: Path, new_page: Callable[..., Page], kernel_port: str = "reachable") -> dict:
    """JupyterLab with the example notebook (widget state saved with it), every cell run from the
    page; the views checked (the cone, orange, turning on a drag, the second view following), then
    the notebook saved. What the page saw: its WebSocket URLs, the views' statuses, the saved file."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root)
    settings = tmp_path / "config" / WIDGET_SETTINGS
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"saveState": True}))  # as a user who keeps widget state does
    port = free_port()
    env = {"JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_PLATFORM_DIRS": "1"}
    with service_process("-m", "jupyterlab", "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                         "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
                         f"--ServerApp.root_dir={root}", "--LabApp.news_url=None", cwd=root, env=env) as lab:
        lab.wait_for(rf"http://127.0.0.1:{port}/lab")
        sockets: list[str] = []  # the URLs of the page's WebSockets (those refused too)
        page = new_page("about:blank", viewport={"width": 1200, "height": 1000})
        page.on("websocket", lambda socket: sockets.append(socket.url))
        kernel_port_blocked = kernel_port != "reachable"
        if kernel_port_blocked:
            # The page cannot reach the kernel's own port, as from a remote JupyterHub or VS Code:
            # any WebSocket to a port other than JupyterLab's is closed before it opens ("refused"),
            # or opens and never answers ("silent", as through a proxy that holds it).
            def refuse(socket: WebSocketRoute) -> None:
                sockets.append(socket.url)
                if kernel_port == "refused":
                    socket.close()

            page.route_web_socket(re.compile(rf"^wss?://127\.0\.0\.1:(?!{port}/)\d+/"), refuse)
        page.goto(f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={TOKEN}")
        # JupyterLab may ask which kernel to start (the notebook names python3): accept its choice.
        page.wait_for_selector(".jp-Dialog .jp-mod-accept, .jp-Notebook-ExecutionIndicator[data-status='idle']",
                               timeout=120_000)
        for _ in range(10):  # the dialog, when it comes, comes within a few seconds of the page
            accept = page.locator(".jp-Dialog .jp-mod-accept")
            if accept.count():
                accept.first.click()
            page.wait_for_timeout(300)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        connected = "TheCone: connected" + (" through Jupyter" if kernel_port_blocked else "")
        statuses = "[...document.querySelectorAll('.remoteviz-notebook-status')].map((s) => s.textContent)"
        try:
            page.wait_for_function(f"{statuses}.join() === '{connected},{connected}'", timeout=120_000)
        except Exception as error:
            raise AssertionError(f"statuses {page.evaluate(statuses)}; JupyterLab's log:\n{lab.output}") from error

        def orange(image: np.ndarray) -> bool:
            centre = image[image.shape[0] // 2 + 40, image.shape[1] // 2]
            return bool(centre[0] > centre[2] + 60)

        first = settled_image(page, 0, until=orange)  # the cone, orange since the third cell ran
        assert first.shape == (360, 480, 3)
        second = settled_image(page, 1, until=orange)

        box = page.locator(".remoteviz-view").first.bounding_box()
        assert box is not None
        x = box["x"] + box["width"] / 2
        page.mouse.move(x, box["y"] + 80)
        page.mouse.down()
        for y in (140, 200, 260):
            page.mouse.move(x + 30, box["y"] + y, steps=6)
        page.mouse.up()
        turned = settled_image(page, 0, unlike=first)
        assert changed_fraction(first, turned) > 0.05, "the drag went back to the kernel and turned the cone"
        assert changed_fraction(second, settled_image(page, 1, unlike=second)) > 0.05, "the second view followed"

        saved = root / NOTEBOOK.name
        before = saved.stat().st_mtime_ns
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        page.keyboard.press("Control+s")
        deadline = time.monotonic() + 60
        while saved.stat().st_mtime_ns == before or "widget-state" not in saved.read_text():
            assert time.monotonic() < deadline, "the notebook was not saved with its widget state"
            time.sleep(0.5)
        return {"sockets": sockets, "statuses": page.evaluate(statuses), "saved": saved.read_text()}


def assert_no_token_saved(saved: str, tokens: list[str]) -> None:
    """The saved notebook keeps the views' state (their URLs) but none of the tokens the page used."""
    models = json.loads(saved)["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    urls = [model["state"]["url"] for model in models.values() if "url" in model["state"]]
    assert len(urls) == 2 and all("/TheCone" in url and "token" not in url for url in urls), urls
    assert tokens and not [token for token in tokens if token in saved]


@pytest.mark.timeout(600)  # JupyterLab and a kernel start on a loaded 2-core machine
def test_the_notebook_shows_a_live_view_that_turns_on_a_drag(tmp_path, new_page) -> None:
    seen = run_the_notebook(tmp_path, new_page)
    direct = [url for url in seen["sockets"] if "/TheCone" in url]
    assert len(direct) == 2, seen["sockets"]  # one straight to the kernel's service per view
    tokens = [parse_qs(urlsplit(url).query)["token"][0] for url in direct]
    assert_no_token_saved(seen["saved"], tokens)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("kernel_port", ["refused", "silent"])
def test_the_notebook_works_through_jupyter_when_the_kernels_port_cannot_be_reached(tmp_path, new_page,
                                                                                     kernel_port) -> None:
    # Frames come and the drag goes through Jupyter's own widget channel (run_the_notebook checks both).
    seen = run_the_notebook(tmp_path, new_page, kernel_port)
    assert seen["statuses"] == ["TheCone: connected through Jupyter"] * 2
    tried = [url for url in seen["sockets"] if "/TheCone" in url]
    assert len(tried) == 2, seen["sockets"]  # the direct path was tried first, and refused
    assert_no_token_saved(seen["saved"], [parse_qs(urlsplit(url).query)["token"][0] for url in tried])
