"""Every input kind reaches the listener as sent; application messages travel both ways."""

import asyncio

import remoteviz as rv
from remoteviz import client
from remoteviz.events import KeyAction, Modifiers, MouseAction, MouseButton, TouchAction

from .harness import Recorder, async_wait_until, running_service


class InputLog(rv.RenderAreaListener):
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def _log(self, *call) -> bool:
        self.calls.append(call)
        return True

    def on_mouse_down(self, ra, c, x, y, button):
        return self._log("down", x, y, button)

    def on_mouse_up(self, ra, c, x, y, button):
        return self._log("up", x, y, button)

    def on_mouse_move(self, ra, c, x, y):
        return self._log("move", x, y)

    def on_mouse_double_click(self, ra, c, x, y, button):
        return self._log("dblclick", x, y, button)

    def on_mouse_enter(self, ra, c, x, y):
        return self._log("enter", x, y)

    def on_mouse_leave(self, ra, c, x, y):
        return self._log("leave", x, y)

    def on_mouse_wheel(self, ra, c, x, y, delta):
        return self._log("wheel", x, y, delta)

    def on_key_down(self, ra, c, x, y, key):
        return self._log("keydown", x, y, key)

    def on_key_up(self, ra, c, x, y, key):
        return self._log("keyup", x, y, key)

    def on_touch_start(self, ra, c, touch_id, x, y):
        return self._log("touchstart", touch_id, x, y)

    def on_touch_move(self, ra, c, touch_id, x, y):
        return self._log("touchmove", touch_id, x, y)

    def on_touch_end(self, ra, c, touch_id, x, y):
        return self._log("touchend", touch_id, x, y)

    def on_received_message(self, ra, connection, message):
        self.calls.append(("message", message))
        connection.send_message(message.upper() if isinstance(message, str) else message[::-1])


class Attach(rv.ServiceListener):
    def __init__(self) -> None:
        self.inputs = InputLog()

    def on_instantiated_render_area(self, render_area):
        render_area.add_listener(self.inputs)


def test_each_input_kind_arrives_with_its_coordinates_buttons_and_keys() -> None:
    listener = Attach()

    async def scenario(url: str) -> None:
        async with client.connect(url) as view:
            await view.mouse(MouseAction.ENTER, 1, 2)
            await view.mouse(MouseAction.DOWN, 10, 20, MouseButton.RIGHT, buttons=2)
            await view.mouse(MouseAction.MOVE, 11, 22, buttons=2)
            await view.mouse(MouseAction.UP, 12, 23, MouseButton.RIGHT)
            await view.mouse(MouseAction.DOUBLE_CLICK, 30, 40, MouseButton.LEFT)
            await view.wheel(50, 60, -3.0)
            await view.key(KeyAction.DOWN, "Escape", 7, 8, Modifiers.SHIFT)
            await view.key(KeyAction.UP, "a", 7, 8)
            await view.touch(TouchAction.START, 4, 100, 110)
            await view.touch(TouchAction.MOVE, 4, 101, 111)
            await view.touch(TouchAction.END, 4, 102, 112)
            await view.touch(TouchAction.START, 5, 1, 1)
            await view.touch(TouchAction.CANCEL, 5, 2, 2)
            await view.mouse(MouseAction.LEAVE, -5, 9000)
            await async_wait_until(lambda: len(listener.inputs.calls) == 14)

    with running_service(listener) as runner:
        asyncio.run(scenario(runner.url("Input")))
    assert listener.inputs.calls == [
        ("enter", 1, 2),
        ("down", 10, 20, 2),
        ("move", 11, 22),
        ("up", 12, 23, 2),
        ("dblclick", 30, 40, 0),
        ("wheel", 50, 60, -3.0),
        ("keydown", 7, 8, "Escape"),
        ("keyup", 7, 8, "a"),
        ("touchstart", 4, 100, 110),
        ("touchmove", 4, 101, 111),
        ("touchend", 4, 102, 112),
        ("touchstart", 5, 1, 1),
        ("touchend", 5, 2, 2),  # a cancelled touch ends for the listener
        ("leave", -5, 9000),
    ]


def test_messages_travel_both_ways_as_text_and_bytes() -> None:
    listener = Attach()
    payload = bytes(range(256)) * 4

    async def scenario(url: str):
        async with client.connect(url) as view:
            await view.send_message("héllo")
            await view.send_message(payload)
            return await view.next_message(), await view.next_message()

    with running_service(listener) as runner:
        text, data = asyncio.run(scenario(runner.url("Talk")))
    assert listener.inputs.calls == [("message", "héllo"), ("message", payload)]
    assert text == "HÉLLO"
    assert data == payload[::-1]


def test_render_area_send_message_reaches_all_or_only_the_chosen_connections(recorder: Recorder) -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Cast")) as a, client.connect(runner.url("Cast")) as b:
            area = runner.service.get_render_area("Cast")
            await async_wait_until(lambda: area.num_connections == 2)
            first, second = area.connections
            area.send_message("to everyone")
            area.send_message(b"\x00only-one", connections=[second])
            got_a = [await a.next_message()]
            got_b = [await b.next_message()]
            to_second, other = (b, a) if second.id == b.accept.connection_id else (a, b)
            extra = await to_second.next_message()
            try:
                leaked = await other.next_message(timeout=0.2)
            except TimeoutError:
                leaked = None
            return got_a, got_b, extra, leaked

    with running_service(recorder) as runner:
        got_a, got_b, extra, leaked = asyncio.run(scenario(runner))
    assert got_a == got_b == ["to everyone"]
    assert extra == b"\x00only-one"
    assert leaked is None


def test_a_listener_that_raises_is_logged_and_the_service_goes_on(caplog) -> None:
    class Faulty(rv.RenderAreaListener):
        def on_received_message(self, render_area, connection, message):
            if message == "boom":
                raise ValueError("listener bug")
            connection.send_message("still here")

    class Attach2(rv.ServiceListener):
        def on_instantiated_render_area(self, render_area):
            render_area.add_listener(Faulty())

    async def scenario(url: str):
        async with client.connect(url) as view:
            await view.send_message("boom")
            await view.send_message("again")
            return await view.next_message()

    with running_service(Attach2()) as runner:
        answer = asyncio.run(scenario(runner.url("Faulty")))
    assert answer == "still here"
    assert "listener bug" in caplog.text
