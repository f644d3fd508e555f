"""The notebook example for real: JupyterLab on loopback, the notebook run in its kernel from the
page in headless Chromium, the cell's view showing the cone (coloured by a later cell) and turning
on a drag, with a second view of the same render area following."""

from __future__ import annotations

import base64
import io
import shutil
import socket
import time
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page

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


@pytest.mark.timeout(600)  # JupyterLab and a kernel start on a loaded 2-core machine
def test_the_notebook_shows_a_live_view_that_turns_on_a_drag(tmp_path, new_page) -> None:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root)
    port = free_port()
    env = {"JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_PLATFORM_DIRS": "1"}
    with service_process("-m", "jupyterlab", "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                         "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
                         f"--ServerApp.root_dir={root}", "--LabApp.news_url=None", cwd=root, env=env) as lab:
        lab.wait_for(rf"http://127.0.0.1:{port}/lab")
        page = new_page(f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={TOKEN}",
                        viewport={"width": 1200, "height": 1000})
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
        page.wait_for_function("[...document.querySelectorAll('.remoteviz-notebook-status')].map((s) => s.textContent)"
                               ".join() === 'TheCone: connected,TheCone: connected'", timeout=120_000)

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
