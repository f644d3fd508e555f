"""What ``remoteviz view FILE`` runs: files loaded on a background thread while the service already
serves the page, their progress and name told to every page.

The service listens before the first byte is read, so a browser opened at once gets the page, an
examiner with a background, and a loading overlay instead of "connection refused". Each page
hears the state as an application message, a JSON object ``{"remoteviz_view": {"title": ...,
"state": "loading" | "ready" | "failed", "progress": 0..1, "detail": ...}}``, which the built-in
page shows as its title, its status line and the overlay; the state is sent again to every page
that connects later.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .connection import Connection
from .encoders import FrameEncoders
from .loading import load
from .readers.errors import ReadError
from .render_area import RenderArea, RenderAreaListener
from .service import Service, ServiceListener

if TYPE_CHECKING:
    from .rendering import Node

log = logging.getLogger("remoteviz.view")

PROGRESS_INTERVAL = 0.2
"""Seconds between two progress messages to the pages."""

MESSAGE_KEY = "remoteviz_view"
"""The key of the state messages the built-in page listens for."""


class FileViewer(ServiceListener, RenderAreaListener):
    """Loads ``paths`` on a thread of its own and shows them in every render area of ``service``.

    ``area_listeners`` are added to each new render area (the command's encoder choice). After a
    file fails to load, :attr:`failed` holds the one-line reason, printed to stderr and shown on
    the pages.
    """

    def __init__(self, service: Service, paths: Sequence[str], memory_budget: int | None = None,
                 area_listeners: Sequence[RenderAreaListener] = ()) -> None:
        self._service = service
        self._paths = list(paths)
        self._memory_budget = memory_budget
        self._area_listeners = list(area_listeners)
        self.title = ", ".join(os.path.basename(p.rstrip("/")) or p for p in self._paths)
        self._nodes: list[Node] | None = None  # set on the dispatch thread once loaded
        self._state: dict[str, str | float] = {"title": self.title, "state": "loading", "progress": 0.0, "detail": ""}
        self.failed: str | None = None
        self._last_progress = 0.0

    # ---------------------------------------------------------------- loading (its own thread)

    def start(self) -> None:
        """Start loading; the service must be open (the results are handed to its dispatch thread)."""
        threading.Thread(target=self._load, name="remoteviz-view-load", daemon=True).start()

    def _load(self) -> None:
        nodes: list[Node] = []
        try:
            for number, path in enumerate(self._paths):
                def progress(fraction: float, number: int = number) -> None:
                    self._report((number + max(0.0, min(1.0, fraction))) / len(self._paths))

                nodes.append(load(path, memory_budget=self._memory_budget, progress=progress,
                                  redraw=self._service.call_soon))
        except (ReadError, OSError, ValueError) as error:
            self._service.call_soon(self._fail, f"remoteviz: {error}")
            return
        except Exception as error:  # a bug in a reader must still reach the user as one line
            log.exception("loading %s failed", self.title)
            self._service.call_soon(self._fail, f"remoteviz: cannot read {self.title}: {error}")
            return
        self._service.call_soon(self._show, nodes)

    def _report(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            self._service.call_soon(self._progress, fraction)

    # ---------------------------------------------------------------- the dispatch thread

    def _progress(self, fraction: float) -> None:
        if self._state["state"] == "loading":
            self._state["progress"] = fraction
            self._tell_all()

    def _show(self, nodes: list[Node]) -> None:
        from .rendering import SceneExaminer

        self._nodes = nodes
        for area in self._service.render_areas:
            examiner = area.scene_manager.scene_graph
            if not isinstance(examiner, SceneExaminer):
                continue  # an area whose scene the application replaced
            for node in nodes:
                examiner.add_child(node)
            examiner.view_all(area.viewport)
        self._state.update(state="ready", progress=1.0)
        self._tell_all()
        log.info("showing %s", self.title)

    def _fail(self, message: str) -> None:
        self.failed = message
        print(message, file=sys.stderr, flush=True)
        self._state.update(state="failed", detail=message.removeprefix("remoteviz: "))
        self._tell_all()

    def _message(self) -> str:
        return json.dumps({MESSAGE_KEY: self._state})

    def _tell_all(self) -> None:
        message = self._message()
        for area in self._service.render_areas:
            area.send_message(message)

    def on_instantiated_render_area(self, render_area: RenderArea) -> None:
        """Give a new render area an examiner, a background and what has loaded so far."""
        from . import rendering

        examiner = rendering.SceneExaminer()
        examiner.add_child(rendering.GradientBackground())
        for node in self._nodes or ():
            examiner.add_child(node)
        render_area.scene_manager.scene_graph = examiner
        examiner.view_all(render_area.viewport)
        render_area.touch_manager.add_default_recognizers()
        render_area.add_listener(self)
        for listener in self._area_listeners:
            render_area.add_listener(listener)
        from .viewer_tools import ViewerTools

        ViewerTools(render_area)  # the page's toolbar, model tree, measuring tools and colour maps
        # The user's own files on the user's own command: a page may ask to draw them itself
        # (?render=client); logged as an opening.
        render_area.client_rendering = True

    def on_opened_connection(self, render_area: RenderArea, connection: Connection,
                             frame_encoders: FrameEncoders) -> None:
        """Tell a new page the file's name and how far loading is."""
        render_area.send_message(self._message(), [connection])
