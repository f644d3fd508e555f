"""The ``remoteviz`` command: show a file in the browser, run HelloCone, find the client's files.

    remoteviz view FILE_OR_FOLDER [more ...] [--memory MB] [--host 127.0.0.1] [--port 8080] [--encoder png] [--open]
    remoteviz hello [--host ...] [--port ...] [--encoder ...] [--open]
    remoteviz client-path

``view`` and ``hello`` serve the built-in viewer page and print the URL to open; every render area
id (``/?area=ID``) gets its own view of the same scene. ``view`` listens at once and loads its
files meanwhile (``remoteviz.file_viewer``): the page shows the progress.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import sys
import time
import webbrowser
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .connection import Connection
from .encoders import Encoder, FrameEncoders
from .file_viewer import FileViewer
from .http import CLIENT_DIR
from .loading import DEFAULT_MEMORY_BUDGET
from .render_area import RenderArea, RenderAreaListener
from .service import Service, ServiceListener, ServiceSettings

if TYPE_CHECKING:
    from .rendering import Node

log = logging.getLogger("remoteviz.cli")

ENCODER_CHOICES = ("png", "jpeg", "h264", "h264_nvenc", "vp9", "av1")
"""``--encoder`` values: png is PNG stills with JPEG while interacting; the others serve both."""

_LOOPBACK = ("127.0.0.1", "localhost", "::1")

_FAILURE_GRACE = 2.0
"""Seconds ``view`` keeps serving after a file failed to load, so that open pages show why."""


class _ChosenEncoders(RenderAreaListener):
    """Gives every connection the encoders named on the command line."""

    def __init__(self, name: str) -> None:
        still = Encoder.parse(name)
        self._pair = (still, Encoder.JPEG if still is Encoder.PNG else still)

    def on_opened_connection(self, render_area: RenderArea, connection: Connection,
                             frame_encoders: FrameEncoders) -> None:
        frame_encoders.set_encoders(*self._pair)


class _Viewer(ServiceListener):
    """Builds each new render area's scene: an examiner, a gradient background, ``content()``."""

    def __init__(self, content: Callable[[], list[Node]], encoder: str) -> None:
        self._content = content
        self._encoders = _ChosenEncoders(encoder)

    def on_instantiated_render_area(self, render_area: RenderArea) -> None:
        from . import rendering

        examiner = rendering.SceneExaminer()
        examiner.add_child(rendering.GradientBackground())
        for node in self._content():
            examiner.add_child(node)
        render_area.scene_manager.scene_graph = examiner
        examiner.view_all(render_area.viewport)
        render_area.touch_manager.add_default_recognizers()
        render_area.add_listener(self._encoders)


def _cone() -> list[Node]:
    from .rendering import Cone

    return [Cone()]


class _UrlPrintedOnce(logging.Filter):
    """The command prints the page's URL itself: the service's own line would say it a second time."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("open %s in a browser")


def _serve(listener: ServiceListener, args: argparse.Namespace, viewer: FileViewer | None = None) -> int:
    """Open the service, print where to look, dispatch until Ctrl-C (or until ``viewer`` failed)."""
    service = Service.instance()
    service.add_listener(listener)
    if args.host not in _LOOPBACK:
        log.warning("listening on %s: anyone who reaches this machine can open the viewer, without a "
                    "password", args.host)
    if not service.open(ServiceSettings(host=args.host, port=args.port)):
        return 1  # open() logged why
    urls = service.page_urls()
    print(f"remoteviz: open {urls[0]} in a browser", flush=True)
    if viewer is not None:
        viewer.start()
    if args.open:
        _open_browser(urls[0])
    deadline: float | None = None  # set once the viewer failed
    try:
        while deadline is None or time.monotonic() < deadline:
            service.dispatch(timeout=1.0 if deadline is None else 0.1)
            if deadline is None and viewer is not None and viewer.failed:
                # Open pages have been told why; give them a moment to receive it, then end.
                deadline = time.monotonic() + (_FAILURE_GRACE if service.num_clients else 0.0)
    except KeyboardInterrupt:
        pass
    finally:
        service.close()
    return 0 if deadline is None else 1


def _open_browser(url: str) -> None:
    try:
        webbrowser.get()
    except webbrowser.Error:
        log.warning("no web browser found on this machine; open %s from another one", url)
        return
    webbrowser.open(url)


def _add_view_parser(commands: Any, serving: argparse.ArgumentParser) -> None:
    view = commands.add_parser(
        "view", parents=[serving],
        help="show files: volumes (a DICOM series folder, NIfTI, TIFF stack, SEG-Y, .npy, zarr), point clouds "
             "(LAS/LAZ, PLY), meshes (STL, OBJ, PLY, glTF, OFF...) and STEP/IGES parts")
    view.add_argument("files", nargs="+", metavar="FILE_OR_FOLDER", help="a file, a DICOM or TIFF folder, "
                      "or a glob of TIFF slices")
    view.add_argument("--memory", type=int, default=DEFAULT_MEMORY_BUDGET // 2**20, metavar="MB",
                      help="memory a volume may take, in MB (default %(default)s)")


def _view(args: argparse.Namespace) -> int:
    """``remoteviz view``: refuse what is missing at once, then serve while the files load."""
    missing = [path for path in args.files if not os.path.exists(path) and not glob.has_magic(path)]
    if missing:
        print(f"remoteviz: cannot read {missing[0]}: no such file or folder", file=sys.stderr)
        return 1
    if args.memory <= 0:
        print("remoteviz: --memory must be a positive number of MB", file=sys.stderr)
        return 1
    service = Service.instance()
    viewer = FileViewer(service, args.files, args.memory * 2**20, [_ChosenEncoders(args.encoder)])
    return _serve(viewer, args, viewer)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="remoteviz", description="Render on this machine, view in a browser.")
    commands = parser.add_subparsers(dest="command", required=True)
    serving = argparse.ArgumentParser(add_help=False)
    serving.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: "
                         "this machine only; 0.0.0.0 opens it to the network)")
    serving.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0: any free port)")
    serving.add_argument("--encoder", default="png", choices=ENCODER_CHOICES,
                         help="how frames travel (default png: PNG stills, JPEG while interacting)")
    serving.add_argument("--open", action="store_true", help="open the page in this machine's web browser")
    _add_view_parser(commands, serving)
    commands.add_parser("hello", parents=[serving], help="the HelloCone demo: a cone to turn")
    commands.add_parser("client-path", help="print the folder of the browser client's files (remoteviz.js)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``remoteviz`` command with ``argv`` (default: the process's arguments)."""
    args = _parser().parse_args(argv)
    if args.command == "client-path":
        print(CLIENT_DIR.resolve())
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_UrlPrintedOnce())
    if args.command == "view":
        return _view(args)
    return _serve(_Viewer(_cone, args.encoder), args)


if __name__ == "__main__":
    sys.exit(main())
