"""The client README's classic-script page (the RemoteViz guide's), saved to a file and opened from
disk against HelloCone: refused with its reason on the page (Origin ``null``) until HelloCone runs
with ``--allow-origin null``, which it logs as it starts; then the cone shows."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from ..markdown import code_blocks
from ..processes import ROOT, service_process
from .conftest import VIEWPORT
from .helpers import assert_shows_cone

HELLO_CONE = ROOT / "examples" / "hello_cone" / "hello_cone.py"


def guide_page(folder: Path, port: int) -> Path:
    """The README's classic page as a file, pointed at ``port`` instead of 8080."""
    [block] = [b for b in code_blocks(ROOT / "client-js" / "README.md", "html") if "RemoteVizClient.js" in b.text]
    assert "127.0.0.1:8080" in block.text
    page = folder / "index.html"
    page.write_text(block.text.replace("127.0.0.1:8080", f"127.0.0.1:{port}"))
    return page


@pytest.fixture
def file_page(browser: Browser) -> Iterator[Page]:
    # A context of its own without the suite's instrumentation, which defines window.theRenderArea
    # and so would break the page's own `var theRenderArea = null`.
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_the_guide_page_from_a_file_is_refused_with_its_reason_then_allowed(tmp_path, file_page: Page) -> None:
    with service_process(str(HELLO_CONE), "--port", "0") as service:
        port = int(service.url.rsplit(":", 1)[1].strip("/"))
        file_page.goto(guide_page(tmp_path, port).as_uri())
        file_page.wait_for_function("document.getElementById('TheStatus').textContent.startsWith('REFUSED')",
                                    timeout=30_000)
        status = file_page.locator("#TheStatus").text_content() or ""
        assert "origin" in status and "null" in status, status
        assert "pages of these origins may connect too" not in service.output

    with service_process(str(HELLO_CONE), "--port", "0", "--allow-origin", "null") as service:
        port = int(service.url.rsplit(":", 1)[1].strip("/"))
        service.wait_for(r"pages of these origins may connect too: null")
        file_page.goto(guide_page(tmp_path, port).as_uri())
        file_page.wait_for_function("document.getElementById('TheStatus').textContent === 'connected'",
                                    timeout=30_000)
        view = file_page.locator(".remoteviz-view")
        for _ in range(100):  # until the first frame is painted over the black view
            image = np.asarray(Image.open(io.BytesIO(view.screenshot())).convert("RGB")).astype(int)
            if image[2, 2].mean() > 40:
                break
            file_page.wait_for_timeout(200)
        assert_shows_cone(image)
