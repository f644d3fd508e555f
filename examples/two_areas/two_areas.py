"""Two render areas on one page: one shared by every tab, one private to each tab.

    python examples/two_areas/two_areas.py [--host 127.0.0.1] [--port 8080]

then open the URL it logs, and again in a second tab. The left view, render area ``Shared``, is
the same in every tab: turn the cone in one tab and it turns in the other. The right view is the
tab's own render area (``Mine-<random>``), with a cube only that tab moves. Ids of any other
form are refused (the browser sees REFUSED), as a service with real users would.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import remoteviz as rv

STATIC_DIR = Path(__file__).resolve().parent / "static"
SHARED = "Shared"
PRIVATE = re.compile(r"Mine-[a-z0-9]{1,16}")


class TwoAreas(rv.ServiceListener):
    """A cone in the shared area, a cube in each private one; nothing else."""

    def on_pending_create_render_area(self, render_area_id: str, width: int, height: int, client: rv.Client,
                                      parameters: rv.ConnectionParameters) -> bool:
        return render_area_id == SHARED or PRIVATE.fullmatch(render_area_id) is not None

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        shape: rv.Shape = rv.Cone() if render_area.id == SHARED else rv.Cube()
        examiner = rv.SceneExaminer([rv.GradientBackground(), shape])
        render_area.scene_manager.scene_graph = examiner
        examiner.view_all(render_area.viewport)
        render_area.touch_manager.add_default_recognizers()


def main(argv: list[str] | None = None) -> None:
    """Run the service until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0: any free one)")
    args = parser.parse_args(argv)
    service = rv.Service.instance()
    service.add_listener(TwoAreas())
    service.run(rv.ServiceSettings(host=args.host, port=args.port, static_dir=str(STATIC_DIR)))


if __name__ == "__main__":
    main()
