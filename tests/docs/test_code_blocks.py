"""Every Python block of the README and the documentation runs, in order, as a reader would paste
them into one session: examples that no longer match the API fail here.

The only changes made to a block before it runs: ``port=8080`` becomes ``port=0`` and
``host="0.0.0.0"`` becomes ``host="127.0.0.1"`` (tests listen on loopback, on free ports), and a
URL on port 8080 points at a HelloCone service the test runs. The names a document leaves to the
reader (``my_renderer``, ``running``, ...) are defined by ``reader_names``. A block that calls
``service.run()`` runs it for real; a watchdog checks the service answers, then stops it.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh

import remoteviz as rv
from remoteviz import client

from ..integration.harness import ServiceThread, running_service
from ..markdown import code_blocks
from ..processes import ROOT

DOCUMENTS = ["README.md", "docs/index.md", "docs/getting-started.md", "docs/guide.md", "docs/scene-graph.md"]
"""The documents whose Python blocks run here; docs/notebooks.md's run in a Jupyter kernel, below."""


class Countdown:
    """``while running:`` for a few turns of a loop, then False."""

    def __init__(self, turns: int) -> None:
        self.turns = turns

    def __bool__(self) -> bool:
        self.turns -= 1
        return self.turns >= 0


class Renderer:
    """The reader's own renderer of the guide's INDEPENDENT_SERVICE example."""

    def draw(self, width: int, height: int) -> np.ndarray:
        return np.zeros((height, width, 3), np.uint8)

    def orbit(self, x: int, y: int) -> None:
        pass


def reader_names(connection: rv.Connection) -> dict[str, Any]:
    """What the documents assume the reader has: their own objects, and a live connection."""
    import remoteviz

    return {"__name__": "__doc_example__", "remoteviz": remoteviz, "MyServiceListener": rv.ServiceListener,
            "settings": rv.ServiceSettings(host="127.0.0.1", port=0), "running": Countdown(3),
            "step_my_simulation": lambda: None, "expected_token": lambda render_area_id: "abc",
            "my_renderer": Renderer(), "connection": connection}


@contextlib.contextmanager
def hello_cone() -> Iterator[ServiceThread]:
    """The HelloCone example's service, for the blocks that connect to one."""
    sys.path.insert(0, str(ROOT / "examples" / "hello_cone"))
    import hello_cone as example

    with running_service(example.HelloConeServiceListener(), run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        yield runner


@contextlib.contextmanager
def live_connection(runner: ServiceThread) -> Iterator[rv.Connection]:
    """A real connection to ``runner``'s service, held open by a client on a thread of its own."""
    done, opened = threading.Event(), threading.Event()

    async def hold() -> None:
        async with client.connect(runner.url("Docs", "width=64&height=48")) as view:
            await view.next_frame()
            opened.set()
            while not done.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=asyncio.run, args=(hold(),), daemon=True)
    thread.start()
    assert opened.wait(30)
    area = runner.service.get_render_area("Docs")
    assert area is not None
    try:
        yield area.connections[0]
    finally:
        done.set()
        thread.join(10)


@contextlib.contextmanager
def stopping_run() -> Iterator[list[str]]:
    """Watch the process's service: once a block opened it, check it answers, then stop it."""
    answers: list[str] = []
    finished = threading.Event()
    service = rv.Service.instance()

    def watch() -> None:
        while not finished.is_set():
            port = service.port if service.is_open else 0
            if port:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
                    answers.append(response.read().decode())
                service.stop()
                return
            finished.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield answers
    finally:
        finished.set()
        watcher.join(10)


def adapted(code: str, helper_port: int) -> str:
    return (code.replace("port=8080", "port=0").replace('host="0.0.0.0"', 'host="127.0.0.1"')
            .replace(":8080/", f":{helper_port}/"))


def run_document(document: str, helper: ServiceThread, connection: rv.Connection) -> dict[str, Any]:
    """Run the Python blocks of ``document`` in order in one namespace; return it."""
    blocks = code_blocks(ROOT / document, "python")
    assert blocks, f"{document} has no Python block"
    namespace = reader_names(connection)
    for block in blocks:
        code = compile(adapted(block.text, helper.service.port), f"{document}:{block.line}", "exec",
                       flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        with stopping_run() as answers:
            result = eval(code, namespace)  # noqa: S307  (the project's own documentation)
            if asyncio.iscoroutine(result):
                asyncio.run(result)
        if "service.run(" in block.text:
            assert answers == ["ok\n"], f"{document}:{block.line}: the service did not answer"
        assert not rv.Service.instance().is_open, f"{document}:{block.line} left the service open"
    assert not helper.errors, helper.errors
    return namespace


@pytest.fixture
def reader(tmp_path: Path, monkeypatch) -> Iterator[tuple[ServiceThread, rv.Connection]]:
    """A fresh directory with the guide's part.stl, a fresh process service, a HelloCone helper."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(rv.Service, "_instance", None)  # the documents' listeners go with it
    trimesh.creation.box().export(tmp_path / "part.stl")  # the guide's Mesh.from_file("part.stl")
    with hello_cone() as helper, live_connection(helper) as connection:
        yield helper, connection


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_python_block_runs(document: str, reader) -> None:
    run_document(document, *reader)


def test_the_guides_listeners_work_together(reader) -> None:
    """The guide's service and render area listeners, driven by a client: the token is checked, the
    model shows, alt + click picks, "reset view" answers "done"."""
    names = run_document("docs/guide.md", *reader)
    service = rv.Service()
    service.add_listener(names["MyServiceListener"]())
    assert service.open(rv.ServiceSettings(host="127.0.0.1", port=0))
    runner = ServiceThread(service)
    runner.start()

    async def scenario() -> tuple[str | bytes, str | bytes]:
        with pytest.raises(client.ServiceClosed):
            async with client.connect(runner.url("MyArea", "token=wrong")):
                pass
        async with client.connect(runner.url("MyArea", "token=abc&width=64&height=64")) as view:
            await view.next_frame()
            await view.mouse(rv.MouseAction.DOWN, 32, 32, rv.MouseButton.LEFT, 1, rv.Modifiers.ALT)
            picked = await view.next_message()
            await view.send_message("reset view")
            return picked, await view.next_message()

    try:
        picked, reset = asyncio.run(scenario())
    finally:
        runner.stop()
        service.close()
    assert not runner.errors, runner.errors
    assert isinstance(picked, str) and picked.startswith("part.stl "), picked
    assert reset == "done"


def test_the_notebook_pages_blocks_run_in_a_kernel(tmp_path: Path) -> None:
    """docs/notebooks.md's blocks are notebook cells: run them in a real kernel, as its reader would."""
    import nbformat
    from nbclient import NotebookClient

    cells = [nbformat.v4.new_code_cell(block.text) for block in code_blocks(ROOT / "docs/notebooks.md", "python")]
    cells.append(nbformat.v4.new_code_cell(
        "assert service.is_open and area.scene_manager.scene_graph is examiner\n"
        "print(second.url, second.width, second.height)\n"
        "service.stop()"))
    book = nbformat.v4.new_notebook(cells=cells)
    NotebookClient(book, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = book.cells[0].outputs[-1]["data"]
    assert "application/vnd.jupyter.widget-view+json" in shown, "the render area showed as a live view"
    printed = book.cells[-1].outputs[0]["text"].split()
    # The URL the widget keeps (and a saved notebook with it) carries no token: the page asks for one.
    assert printed[0].startswith("ws://127.0.0.1:") and printed[0].endswith("/TheCone") and printed[1:] == ["240", "180"]
