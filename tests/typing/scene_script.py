"""A user's service as mypy --strict sees it: every scene name has its real type (not ``object`` or
``Any``), so that mistakes in calling them are caught. Checked by tests/unit/test_typing.py, never run."""

from __future__ import annotations

from typing import assert_type

import numpy as np

import remoteviz as rv


class Viewer(rv.RenderAreaListener):
    def __init__(self, examiner: rv.SceneExaminer) -> None:
        self.examiner = examiner

    def on_mouse_move(self, render_area: rv.RenderArea, connection: rv.Connection, x: int, y: int, *,
                      event: rv.MouseEvent) -> bool:
        assert_type(event.modifiers, rv.Modifiers)
        return not event.buttons

    def on_received_message(self, render_area: rv.RenderArea, connection: rv.Connection,
                            message: str | bytes) -> None:
        if message == "reset":
            self.examiner.reset_home()


class App(rv.ServiceListener):
    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        examiner = rv.SceneExaminer()
        examiner.add_child(rv.GradientBackground())
        parts = examiner.add_child(rv.Separator())
        assert_type(parts, rv.Separator)
        parts.add_child(rv.Transform(translation=(1.0, 0.0, 0.0)))
        parts.add_child(rv.Material(diffuse_color=(0.8, 0.2, 0.2)))
        mesh = parts.add_child(rv.Mesh(np.zeros((3, 3)), [(0, 1, 2)]))
        assert_type(mesh, rv.Mesh)
        assert_type(examiner.camera, rv.Camera)
        assert_type(examiner.interaction_mode, rv.InteractionMode)
        render_area.scene_manager.scene_graph = examiner
        examiner.view_all(render_area.viewport)
        examiner.save_home()
        hit = render_area.scene_manager.pick(1, 2, render_area.width, render_area.height)
        if hit is not None:
            assert_type(hit, rv.PickedPoint)
            assert_type(hit.index, int | None)
            assert_type(hit.node, rv.Shape)
        callback = rv.EventCallback()
        callback.add_event_callback(rv.MouseEvent, self.clicked)
        examiner.add_child(callback)
        render_area.add_listener(Viewer(examiner))
        field = rv.Mesh([(0, 0, 0), (1, 0, 0), (0, 1, 0)], scalars=[1.0, 2.0, 3.0], colormap="plasma")
        assert_type(field.scalar_range, tuple[float, float] | None)
        assert_type(field.colormap, str)
        mapping = field.color_mapping()
        if mapping is not None:
            assert_type(mapping, rv.ColorMapping)
        examiner.add_child(rv.ColorBar(field, title="T"))
        assert_type(rv.colormaps(), list[str])
        render_area.add_listener(rv.ColormapMessages())

    def clicked(self, action: rv.HandleEventAction) -> bool:
        if action.connection is not None and action.picked_point is not None:
            action.connection.send_message(f"{action.picked_point.point.tolist()}")
        return True


service = rv.Service.instance()
service.add_listener(App())
settings = rv.ServiceSettings(host="127.0.0.1", port=0)
assert_type(settings.run_mode, rv.RunMode)
