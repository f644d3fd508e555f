"""HelloCone: the RemoteViz getting-started example, in Python.

    python examples/hello_cone/hello_cone.py [--host 127.0.0.1] [--port 8080] [--encoder jpeg] [--allow-origin null]

then open http://127.0.0.1:8080/ . ``--allow-origin ORIGIN`` (repeatable) lets pages of another
origin connect: ``null`` for a page of your own opened from a file, as the client's README shows. Every page opened on it shares the render area "TheCone".
A page may pick its encoder with a connection parameter: http://127.0.0.1:8080/?encoder=h264 ,
its frame rate cap with another: ?max_fps=30 (default 60), its target rate with ?fps=60 (default
30), and ask for cost-aware scaling with ?cost_aware=1 (interactive frames rendered smaller while
a frame costs more than 1/fps to render and encode).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import remoteviz as rv

ENCODER_PAIRS = {
    "jpeg": (rv.Encoder.JPEG, rv.Encoder.JPEG),
    "png": (rv.Encoder.PNG, rv.Encoder.JPEG),
    "h264": (rv.Encoder.H264, rv.Encoder.H264),
    "h264_nvenc": (rv.Encoder.H264_NVENC, rv.Encoder.H264_NVENC),
    "vp9": (rv.Encoder.VP9_VPX, rv.Encoder.VP9_VPX),
    "av1": (rv.Encoder.AV1, rv.Encoder.AV1),
}
"""The ``encoder`` choices: the still and interactive encoders each one stands for."""

STATIC_DIR = Path(__file__).resolve().parent / "static"


class HelloConeRenderAreaListener(rv.RenderAreaListener):
    """Chooses each connection's encoders: the page's ``encoder`` parameter, else the default."""

    def __init__(self, default_encoder: str) -> None:
        self.default_encoder = default_encoder

    def on_opened_connection(self, render_area: rv.RenderArea, connection: rv.Connection,
                             frame_encoders: rv.FrameEncoders) -> None:
        name = connection.parameters.get_value("encoder", self.default_encoder).lower()
        still, interactive = ENCODER_PAIRS.get(name, ENCODER_PAIRS[self.default_encoder])
        frame_encoders.set_still_encoder(still)
        frame_encoders.set_interactive_encoder(interactive)
        # A page may also cap (or lift the cap on) its frame rate: ?max_fps=30
        max_fps = connection.parameters.get_int("max_fps")
        if max_fps is not None and 1 <= max_fps <= 240:
            connection.settings.max_sending_fps = max_fps
        fps = connection.parameters.get_int("fps")
        if fps is not None and 1 <= fps <= 60:
            connection.settings.fps = fps
        connection.settings.cost_aware_scaling = connection.parameters.get_value("cost_aware", "0") == "1"


class HelloConeServiceListener(rv.ServiceListener):
    """Builds the scene of every new render area: an examiner, a gradient background, a cone."""

    def __init__(self, default_encoder: str = "png", preview: bool = False) -> None:
        self.default_encoder = default_encoder
        self.preview = preview

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        examiner = rv.SceneExaminer()
        examiner.add_child(rv.GradientBackground())
        examiner.add_child(rv.Cone())
        render_area.scene_manager.scene_graph = examiner
        examiner.view_all(render_area.viewport)
        render_area.touch_manager.add_default_recognizers()
        render_area.add_listener(HelloConeRenderAreaListener(self.default_encoder))
        if self.preview:
            render_area.show_preview()  # the frames in a window on this machine's display too


def settings_from(args: argparse.Namespace) -> rv.ServiceSettings:
    """The service settings for the command line ``args``."""
    return rv.ServiceSettings(host=args.host, port=args.port, static_dir=str(STATIC_DIR),
                              render_threads=args.render_threads, allowed_origins=list(args.allow_origin))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument("--encoder", default="png", choices=sorted(ENCODER_PAIRS),
                        help="encoders when the page names none (default png: PNG still, JPEG interactive)")
    parser.add_argument("--render-threads", type=int, default=None,
                        help="render areas drawn at once (default: one per core; 1: on the dispatch thread)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="let pages of this origin connect too, e.g. http://localhost:3000, or null for a "
                             "page opened from a file (repeatable; logged at start)")
    parser.add_argument("--preview", action="store_true",
                        help="also show each render area in a window on this machine (needs a display)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the HelloCone service until Ctrl-C."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    service = rv.Service.instance()
    service.add_listener(HelloConeServiceListener(args.encoder, args.preview))
    print(f"HelloCone rendering service is running: open http://{args.host}:{args.port}/")
    service.run(settings_from(args))


if __name__ == "__main__":
    main()
