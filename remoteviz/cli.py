"""The ``remoteviz`` command: show a model in the browser, run HelloCone, find the client's files.

    remoteviz view part.stl [more.obj ...] [--host 127.0.0.1] [--port 8080] [--encoder png] [--open]
    remoteviz hello [--host ...] [--port ...] [--encoder ...] [--open]
    remoteviz export part.stl [more.obj ...] -o model.html|model.glb
    remoteviz client-path
    remoteviz convert VOLUME STORE [--brick 64] [--reduce mean|max]

``view`` and ``hello`` serve the built-in viewer page and print the URL to open; every render area
id (``/?area=ID``) gets its own view of the same scene. ``convert`` writes a volume once as a
multi-resolution OME-Zarr store that out-of-core volumes draw from. ``export`` writes the files as
one self-contained page (opens from disk, no service, no network) or as glTF binary.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import webbrowser
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .connection import Connection
from .encoders import Encoder, FrameEncoders
from .http import CLIENT_DIR
from .render_area import RenderArea, RenderAreaListener
from .service import Service, ServiceListener, ServiceSettings

if TYPE_CHECKING:
    from .readers.volume_data import VolumeData
    from .rendering import Node

log = logging.getLogger("remoteviz.cli")

ENCODER_CHOICES = ("png", "jpeg", "h264", "h264_nvenc", "vp9", "av1")
"""``--encoder`` values: png is PNG stills with JPEG while interacting; the others serve both."""

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


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


def _load_meshes(paths: Sequence[str]) -> list[Node]:
    """The files as meshes; a file trimesh cannot read ends the command with its reason."""
    from .rendering import Mesh

    meshes: list[Node] = []
    for path in paths:
        try:
            meshes.append(Mesh.from_file(path))
        except Exception as error:  # trimesh raises many kinds: each is a message for the user
            raise SystemExit(f"remoteviz: cannot read {path}: {error}") from error
    return meshes


def _export(files: Sequence[str], output: str) -> int:
    """``remoteviz export``: the files in one scene, as the viewer frames it, written to ``output``."""
    from . import rendering
    from .scene_sync import ExportError, export_scene

    examiner = rendering.SceneExaminer()
    examiner.add_child(rendering.GradientBackground())
    for node in _load_meshes(files):
        examiner.add_child(node)
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


def _serve(listener: ServiceListener, args: argparse.Namespace) -> int:
    """Open the service, print where to look, dispatch until Ctrl-C."""
    service = Service.instance()
    service.add_listener(listener)
    if args.host not in _LOOPBACK:
        log.warning("listening on %s: anyone who reaches this machine can open the viewer, without a "
                    "password", args.host)
    if not service.open(ServiceSettings(host=args.host, port=args.port)):
        return 1  # open() logged why
    urls = service.page_urls()
    print(f"remoteviz: open {urls[0]} in a browser", flush=True)
    if args.open:
        _open_browser(urls[0])
    try:
        while True:
            service.dispatch(timeout=1.0)
    except KeyboardInterrupt:
        pass
    finally:
        service.close()
    return 0


def _read_volume(path: str) -> VolumeData:
    """The volume to convert: a NumPy ``.npy`` file (memory-mapped) or a zarr/OME-Zarr store."""
    from .readers.ome_zarr import read_zarr
    from .readers.volume_data import VolumeData

    if path.endswith(".npy"):
        import numpy as np

        try:
            array = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise ValueError(f"{path}: not a NumPy array file ({error})") from None
        if array.ndim != 3:
            raise ValueError(f"{path}: a volume needs 3 axes (z, y, x), the array has {array.ndim}")
        return VolumeData((array,), (np.eye(4),), path)
    return read_zarr(path)


def _convert(args: argparse.Namespace) -> int:
    """Write ``args.volume`` as a multi-resolution store at ``args.store``, showing progress."""
    from .readers.pyramid_store import write_pyramid

    try:
        data = _read_volume(args.volume)
    except (ValueError, ImportError) as error:
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
    view = commands.add_parser("view", parents=[serving], help="show mesh files (STL, OBJ, PLY, glTF, OFF...)")
    view.add_argument("files", nargs="+", metavar="FILE", help="a mesh file trimesh reads")
    commands.add_parser("hello", parents=[serving], help="the HelloCone demo: a cone to turn")
    commands.add_parser("client-path", help="print the folder of the browser client's files (remoteviz.js)")
    convert = commands.add_parser("convert", help="write a volume as a multi-resolution store for out-of-core viewing")
    convert.add_argument("volume", metavar="VOLUME", help="a .npy file or a zarr/OME-Zarr store")
    convert.add_argument("store", metavar="STORE", help="the OME-Zarr store to write (replaced if it exists)")
    convert.add_argument("--brick", type=int, default=64, help="brick (chunk) side in voxels (default 64)")
    convert.add_argument("--reduce", choices=("mean", "max"), default="mean",
                         help="how coarse levels combine 2x2x2 voxels (max keeps MIP pictures bright)")
    export = commands.add_parser("export", help="write mesh files as one self-contained HTML page or a .glb")
    export.add_argument("files", nargs="+", metavar="FILE", help="a mesh file trimesh reads")
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
    if args.command == "view":
        meshes = _load_meshes(args.files)  # before listening: a bad file fails the command at once
        return _serve(_Viewer(lambda: meshes, args.encoder), args)
    return _serve(_Viewer(_cone, args.encoder), args)


if __name__ == "__main__":
    sys.exit(main())
