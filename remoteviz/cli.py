"""The ``remoteviz`` command: show a file in the browser, run HelloCone, find the client's files.

    remoteviz view FILE_OR_FOLDER [more ...] [--memory MB] [--host 127.0.0.1] [--port 8080] [--encoder png] [--open]
    remoteviz hello [--host ...] [--port ...] [--encoder ...] [--open]
    remoteviz export part.stl [more.obj ...] -o model.html|model.glb
    remoteviz client-path
    remoteviz convert VOLUME STORE [--brick 64] [--reduce mean|max]

``view`` and ``hello`` serve the built-in viewer page and print the URL to open; every render area
id (``/?area=ID``) gets its own view of the same scene. ``view`` listens at once and loads its
files meanwhile (``remoteviz.file_viewer``): the page shows the progress. ``convert`` writes a
volume once as a multi-resolution OME-Zarr store that out-of-core volumes draw from. ``export``
writes the files as one self-contained page (opens from disk, no service, no network) or as glTF
binary.
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
    """Builds each new render area's scene: an examiner, a gradient background, ``content()``; and
    attaches the viewer's tools (``viewer_tools.ViewerTools``) for the page's toolbar."""

    def __init__(self, content: Callable[[], list[Node]], encoder: str) -> None:
        self._content = content
        self._encoders = _ChosenEncoders(encoder)

    def on_instantiated_render_area(self, render_area: RenderArea) -> None:
        viewer_scene(render_area, self._content())
        render_area.add_listener(self._encoders)
        from .viewer_tools import ViewerTools

        ViewerTools(render_area)  # the page's toolbar, model tree and measuring tools


def viewer_scene(render_area: RenderArea, nodes: Sequence[Node]) -> None:
    """Show ``nodes`` in ``render_area`` as ``remoteviz view`` does: in an examiner over a gradient
    background, the camera fitted to them, the default touch gestures on (``rv.show`` too)."""
    from . import rendering

    examiner = rendering.SceneExaminer()
    examiner.add_child(rendering.GradientBackground())
    for node in nodes:
        examiner.add_child(node)
    render_area.scene_manager.scene_graph = examiner
    examiner.view_all(render_area.viewport)
    render_area.touch_manager.add_default_recognizers()


def _export(files: Sequence[str], output: str) -> int:
    """``remoteviz export``: the files (any that ``rv.load`` reads) in one scene, as the viewer
    frames it, written to ``output``."""
    from . import rendering
    from .loading import load
    from .readers.errors import ReadError
    from .scene_sync import ExportError, export_scene

    examiner = rendering.SceneExaminer()
    examiner.add_child(rendering.GradientBackground())
    for path in files:
        try:
            examiner.add_child(load(path))
        except ReadError as error:  # one line naming the file and the problem
            raise SystemExit(f"remoteviz: {error}") from error
    examiner.view_all(rendering.Viewport(1280, 720))
    try:
        written = export_scene(examiner, output, title=", ".join(os.path.basename(f) for f in files))
    except (ExportError, OSError) as error:
        raise SystemExit(f"remoteviz: cannot export to {output}: {error}") from error
    print(f"remoteviz: wrote {output} ({written / (1 << 20):.1f} MiB)")
    return 0


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


def _convert(args: argparse.Namespace) -> int:
    """Write ``args.volume`` as a multi-resolution store at ``args.store``, showing progress."""
    from .readers.errors import ReadError
    from .readers.formats import read_volume
    from .readers.pyramid_store import write_pyramid

    try:
        data = read_volume(args.volume)
    except (ReadError, ImportError) as error:  # one line naming the file and the problem
        print(f"remoteviz: {error}", file=sys.stderr)
        return 1
    shown = -1

    def progress(fraction: float, what: str) -> None:
        nonlocal shown
        percent = int(fraction * 100)
        if percent != shown:
            shown = percent
            print(f"\rremoteviz convert: {percent:3d}% ({what})", end="", file=sys.stderr, flush=True)

    z, y, x = data.shape
    print(f"remoteviz convert: {args.volume} ({x} x {y} x {z} {data.levels[0].dtype}) to {args.store}",
          file=sys.stderr)
    try:
        write_pyramid(data, args.store, brick=args.brick, reduce=args.reduce, progress=progress)
    except (OSError, ValueError) as error:  # a full disk, a folder not writable, a bad brick size
        print(f"\nremoteviz: cannot write {args.store}: {error}", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    print(f"remoteviz: wrote {args.store}")
    return 0


def serve(nodes: Sequence[Node], *, host: str = "127.0.0.1", port: int = 8080, encoder: str = "png",
          open_browser: bool = False) -> int:
    """Show ``nodes`` on the built-in viewer page as ``remoteviz view`` does, until Ctrl-C: print
    the URL (and open it with ``open_browser``). The exit status: 0, or 1 if the service could
    not open (the log says why)."""
    options = argparse.Namespace(host=host, port=port, encoder=encoder, open=open_browser)
    return _serve(_Viewer(lambda: list(nodes), encoder), options)


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
    convert = commands.add_parser("convert", help="write a volume as a multi-resolution store for out-of-core viewing")
    convert.add_argument("volume", metavar="VOLUME",
                         help="a volume remoteviz view reads: DICOM folder, NIfTI, TIFF, SEG-Y, .npy, zarr/OME-Zarr")
    convert.add_argument("store", metavar="STORE", help="the OME-Zarr store to write (replaced if it exists)")
    convert.add_argument("--brick", type=int, default=64, help="brick (chunk) side in voxels (default 64)")
    convert.add_argument("--reduce", choices=("mean", "max"), default="mean",
                         help="how coarse levels combine 2x2x2 voxels (max keeps MIP pictures bright)")
    export = commands.add_parser("export", help="write files as one self-contained HTML page or a .glb")
    export.add_argument("files", nargs="+", metavar="FILE", help="a file remoteviz view shows")
    export.add_argument("-o", "--output", required=True, metavar="MODEL.html|MODEL.glb",
                        help="the file to write: .html opens in a browser from disk, .glb is glTF binary")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``remoteviz`` command with ``argv`` (default: the process's arguments)."""
    args = _parser().parse_args(argv)
    if args.command == "client-path":
        print(CLIENT_DIR.resolve())
        return 0
    if args.command == "convert":
        return _convert(args)
    if args.command == "export":
        return _export(args.files, args.output)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_UrlPrintedOnce())
    if args.command == "view":
        return _view(args)
    return _serve(_Viewer(_cone, args.encoder), args)


if __name__ == "__main__":
    sys.exit(main())
