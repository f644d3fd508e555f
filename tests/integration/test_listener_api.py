"""What listeners receive: input callbacks get the event (buttons, modifiers) when they ask for it,
and older overrides without it keep working; scene event callbacks know the render area and the
connection, and can answer the browser that clicked."""

from __future__ import annotations

import asyncio

import numpy as np

import remoteviz as rv
from remoteviz import client
from remoteviz.events import Modifiers, MouseAction, MouseButton

from .harness import async_wait_until, running_service


class NewStyle(rv.RenderAreaListener):
    def __init__(self, log: list) -> None:
        self.log = log

    def on_requested_frame(self, render_area, connection):
        return np.zeros((render_area.height, render_area.width, 3), np.uint8), False

    def on_mouse_move(self, render_area, connection, x, y, *, event: rv.MouseEvent) -> bool:
        self.log.append(("new", x, y, event.buttons, event.modifiers))
        return True


class OldStyle(rv.RenderAreaListener):
    def __init__(self, log: list) -> None:
        self.log = log

    def on_mouse_move(self, render_area, connection, x, y):  # written before ``event`` existed
        self.log.append(("old", x, y))
        return True


class Both(rv.ServiceListener):
    def __init__(self) -> None:
        self.log: list = []

    def on_instantiated_render_area(self, render_area):
        render_area.add_listener(NewStyle(self.log))
        render_area.add_listener(OldStyle(self.log))


def test_mouse_listeners_receive_buttons_and_modifiers_and_old_overrides_still_work() -> None:
    app = Both()

    async def scenario(url: str) -> None:
        async with client.connect(url) as view:
            await view.next_frame()
            await view.mouse(MouseAction.MOVE, 5, 6)  # a hover: no button held
            # Moves not yet handled coalesce (the newest wins): let the first be handled first.
            await async_wait_until(lambda: len(app.log) >= 2)
            await view.mouse(MouseAction.MOVE, 7, 8, MouseButton.LEFT, 1, Modifiers.SHIFT | Modifiers.CTRL)
            await async_wait_until(lambda: len(app.log) >= 4)

    with running_service(app) as runner:
        asyncio.run(scenario(runner.url("Moves", "width=32&height=32")))
    assert app.log == [("new", 5, 6, 0, Modifiers.NONE), ("old", 5, 6),
                       ("new", 7, 8, 1, Modifiers.SHIFT | Modifiers.CTRL), ("old", 7, 8)]


class Picking(rv.ServiceListener):
    """A cone in SELECTION mode whose event callback tells the clicking browser what it hit."""

    def __init__(self) -> None:
        self.areas: list[str] = []

    def on_instantiated_render_area(self, render_area):
        examiner = rv.SceneExaminer([rv.Cone()])
        examiner.interaction_mode = rv.InteractionMode.SELECTION
        callback = rv.EventCallback()
        callback.add_event_callback(rv.MouseEvent, self.clicked)
        examiner.add_child(callback)
        render_area.scene_manager.scene_graph = examiner
        examiner.view_all(render_area.viewport)

    def clicked(self, action) -> bool:
        if action.event.action is not MouseAction.DOWN:
            return False
        self.areas.append(action.render_area.id)
        hit = action.picked_point
        action.connection.send_message(
            "background" if hit is None else f"{type(hit.node).__name__} {hit.index}")
        return True


def test_event_callbacks_answer_the_connection_that_clicked() -> None:
    app = Picking()

    async def scenario(url: str) -> tuple[str | bytes, str | bytes]:
        async with client.connect(url) as view:
            await view.next_frame()
            await view.mouse(MouseAction.DOWN, 32, 32)
            centre = await view.next_message()
            await view.mouse(MouseAction.DOWN, 1, 1)
            corner = await view.next_message()
            return centre, corner

    with running_service(app, run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        centre, corner = asyncio.run(scenario(runner.url("Pick", "width=64&height=64")))
    assert isinstance(centre, str) and centre.startswith("Cone ") and int(centre.split()[1]) >= 0
    assert corner == "background"
    assert app.areas == ["Pick", "Pick"]
