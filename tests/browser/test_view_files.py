"""``remoteviz view`` on the files users have, as a user runs it: it listens before the file has
loaded and the page shows the loading progress, then the volume; the page names the file (title
and status), not the render area; the URL is printed once; no request of the page gets a 404."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from ..processes import HEADLESS_GL, ServiceProcess, service_process
from ..unit.readers.files import phantom, write_series
from .conftest import VIEWPORT
from .helpers import INSTRUMENT, canvas_image, decoded_count, wait_first_frame, wait_settled

# The command, with its volume reader held until the test creates the gate file: a disk as slow as
# the test needs, so the page surely opens while the file is loading.
HELD_VIEW = """
import pathlib, sys, time
import remoteviz.loading as loading
from remoteviz.cli import main

gate = pathlib.Path(sys.argv[1])
read_volume = loading.read_volume

def held_read_volume(path, progress=None):
    while not gate.exists():
        time.sleep(0.05)
    return read_volume(path, progress)

loading.read_volume = held_read_volume
sys.exit(main(sys.argv[2:]))
"""


def overlay(page) -> dict:
    return page.evaluate("""() => ({
        hidden: document.getElementById("loading").hidden,
        text: document.getElementById("loading-text").textContent,
        progress: document.querySelector("#loading progress").value,
        status: document.getElementById("status").textContent,
        title: document.title })""")


def test_the_page_opened_while_a_dicom_series_loads_shows_progress_then_the_volume(tmp_path, browser):
    series = tmp_path / "chest_ct"
    write_series(series, phantom((24, 64, 64)))
    gate = tmp_path / "go"
    with service_process("-c", HELD_VIEW, str(gate), "view", str(series), "--port", "0") as service:
        url = service.url  # printed before the first slice is read
        context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, bypass_csp=True)
        context.add_init_script(INSTRUMENT)
        missing: list[str] = []
        context.on("response", lambda response: missing.append(response.url) if response.status >= 400 else None)
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("document.getElementById('loading-text').textContent.includes('loading')",
                               timeout=20_000, polling=50)
        wait_first_frame(page)  # the page already shows the examiner's background
        state = overlay(page)
        assert not state["hidden"] and state["text"].startswith("loading chest_ct"), state
        assert state["title"] == "remoteviz: chest_ct", state
        assert "chest_ct" in state["status"] and "TheCone" not in state["status"], state
        before = canvas_image(page)
        assert before.std(axis=(0, 1)).max() < 40, "nothing but the background while loading"
        gate.touch()
        page.wait_for_function("document.getElementById('loading').hidden", timeout=30_000, polling=50)
        painted = decoded_count(page)
        wait_settled(page, after=painted)
        state = overlay(page)
        assert state["status"] == "chest_ct: connected" and state["title"] == "remoteviz: chest_ct", state
        after = canvas_image(page)
        h, w, _ = after.shape
        centre = after[h // 3: 2 * h // 3, w // 3: 2 * w // 3].astype(int)
        background = before[h // 3: 2 * h // 3, w // 3: 2 * w // 3].astype(int)
        assert np.abs(centre - background).max(axis=2).mean() > 20, "the volume shows in the middle"
        messages = page.evaluate("window.__rv.messages")
        assert any('"state": "loading"' in m for m in messages) and any('"state": "ready"' in m for m in messages)
        context.close()
        assert missing == [], missing  # no request of the page failed
        printed = service.output
    assert printed.count(url) == 1, printed  # the command's own line, not the service's log again


def test_a_file_that_fails_to_load_is_named_on_the_page_and_ends_the_command(tmp_path, new_page):
    bad = tmp_path / "scan.nii"
    bad.write_bytes(b"\x5c\x01\x00\x00" + b"\x00" * 400)  # a NIfTI header size, then nothing valid
    gate = tmp_path / "go"
    process = subprocess.Popen([sys.executable, "-c", HELD_VIEW, str(gate), "view", str(bad), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, **HEADLESS_GL, "PYTHONUNBUFFERED": "1"})
    running = ServiceProcess(process)
    try:
        page = new_page(running.url)
        wait_first_frame(page)
        gate.touch()
        page.wait_for_function("document.getElementById('loading').className === 'failed'", timeout=30_000,
                               polling=50)
        state = overlay(page)
        assert state["text"].startswith(f"cannot read {bad}") and "NIfTI" in state["text"], state
        assert state["status"] == f"scan.nii: {state['text']}", state
        assert process.wait(timeout=30) == 1
        running.wait_for(f"remoteviz: cannot read {bad}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_view_refuses_a_missing_file_before_listening(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "remoteviz", "view", str(tmp_path / "absent.nii"), "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "in a browser" not in done.stdout
    assert f"remoteviz: cannot read {tmp_path / 'absent.nii'}: no such file" in done.stderr


def test_view_of_an_stl_names_it_on_the_page_and_prints_its_url_once(tmp_path, new_page) -> None:
    import trimesh

    model = tmp_path / "airplane.stl"
    trimesh.creation.box().export(model)
    with service_process("-m", "remoteviz", "view", str(model), "--port", "0") as service:
        page = new_page(service.url)
        page.wait_for_function("document.title.includes('airplane')", timeout=30_000, polling=50)
        page.wait_for_function("document.getElementById('status').textContent.includes('connected')",
                               timeout=30_000, polling=50)
        assert page.title() == "remoteviz: airplane.stl"
        assert page.text_content("#status") == "airplane.stl: connected"
        # Headless Chromium asks for no favicon, a desktop browser asks for /favicon.ico unless the
        # page declares its icon: the page declares an empty one, so no request and no 404.
        assert page.evaluate("document.querySelector('link[rel=icon]').getAttribute('href')") == "data:,"
        printed = service.output
    assert printed.count(service.url) == 1, printed

