"""Independent rendering: the frames come from your own numpy code, not from remoteviz's scene graph.

    python examples/independent/independent.py [--host 127.0.0.1] [--port 8080]

then open the URL it logs: the built-in viewer page shows a lit, chequered globe drawn with numpy.
A left drag turns it, the wheel zooms. Every render area (``/?area=ID``) has a globe of its own.
Replace ``Globe.draw`` with any code that returns an ``(H, W, 3)`` uint8 array: a ray marcher,
matplotlib's ``FigureCanvasAgg.buffer_rgba()``, a simulation's field.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import numpy.typing as npt

import remoteviz as rv

LIGHT = np.array([0.4, 0.5, 0.77]) / np.linalg.norm([0.4, 0.5, 0.77])


class Globe:
    """The user's own renderer: a sphere seen from a camera that orbits it."""

    def __init__(self) -> None:
        self.yaw, self.pitch, self.zoom = 0.4, 0.3, 1.0

    def orbit(self, dx: float, dy: float, size: int) -> None:
        """A drag of ``(dx, dy)`` pixels across a view whose smaller side is ``size`` pixels."""
        self.yaw += math.pi * dx / size
        self.pitch = max(-1.5, min(1.5, self.pitch + math.pi * dy / size))

    def draw(self, width: int, height: int) -> npt.NDArray[np.uint8]:
        """The picture, ``(height, width, 3)``, rows top to bottom."""
        scale = 2.0 / (min(width, height) * 0.8 * self.zoom)  # scene units per pixel
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
        u, v = (xs - width / 2) * scale, (height / 2 - ys) * scale
        r2 = u * u + v * v
        inside = r2 < 1.0
        z = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
        normal = np.stack([u, v, z], axis=-1)
        # Turn the surface point back into the globe's own frame to find its latitude and longitude.
        cy, sy, cp, sp = math.cos(self.yaw), math.sin(self.yaw), math.cos(self.pitch), math.sin(self.pitch)
        pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
        yaw = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        local = normal @ (pitch @ yaw)
        longitude = np.arctan2(local[..., 0], local[..., 2])
        latitude = np.arcsin(np.clip(local[..., 1], -1.0, 1.0))
        chequer = ((np.floor(longitude / (math.pi / 6)) + np.floor(latitude / (math.pi / 6))) % 2).astype(bool)
        albedo = np.where(chequer[..., None], [230.0, 160.0, 40.0], [40.0, 90.0, 200.0])
        light = np.clip(normal @ LIGHT, 0.0, 1.0)[..., None] * 0.85 + 0.15
        background = np.linspace(90.0, 20.0, height)[:, None, None] * np.ones((1, width, 3))
        image = np.where(inside[..., None], albedo * light, background)
        return image.astype(np.uint8)


class GlobeArea(rv.RenderAreaListener):
    """One render area's globe: frames on request, a left drag orbits, the wheel zooms."""

    def __init__(self) -> None:
        self.globe = Globe()
        self.last: tuple[int, int] | None = None

    def on_requested_frame(self, render_area: rv.RenderArea,
                           connection: rv.Connection) -> tuple[npt.NDArray[np.uint8], bool]:
        return self.globe.draw(render_area.width, render_area.height), render_area.is_interacting

    def on_mouse_down(self, render_area: rv.RenderArea, connection: rv.Connection, x: int, y: int,
                      button: int, *, event: rv.MouseEvent) -> bool:
        self.last = (x, y)
        return True

    def on_mouse_move(self, render_area: rv.RenderArea, connection: rv.Connection, x: int, y: int, *,
                      event: rv.MouseEvent) -> bool:
        if event.buttons & 1 and self.last is not None:  # a left drag, not a hover
            self.globe.orbit(x - self.last[0], y - self.last[1], min(render_area.width, render_area.height))
            render_area.request_redraw()
        self.last = (x, y)
        return True

    def on_mouse_wheel(self, render_area: rv.RenderArea, connection: rv.Connection, x: int, y: int,
                       delta: float, *, event: rv.WheelEvent) -> bool:
        self.globe.zoom = max(0.2, min(5.0, self.globe.zoom / 1.1 ** delta))  # towards the user: smaller
        render_area.request_redraw()
        return True


class Globes(rv.ServiceListener):
    """Gives every new render area a globe."""

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        render_area.add_listener(GlobeArea())


def main(argv: list[str] | None = None) -> None:
    """Run the service until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0: any free one)")
    args = parser.parse_args(argv)
    service = rv.Service.instance()
    service.add_listener(Globes())
    service.run(rv.ServiceSettings(host=args.host, port=args.port, run_mode=rv.RunMode.INDEPENDENT_SERVICE))


if __name__ == "__main__":
    main()
