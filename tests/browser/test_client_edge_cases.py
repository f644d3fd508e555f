"""The browser client at its edges: keys released after Shift, a drag whose pointer is taken away,
a page that disposes its view from a listener, a container resized while the service calibrates."""

import time

from remoteviz.protocol import CloseCode
from tests.integration.harness import wait_until

from .helpers import RecordingApp, RecordingArea, view_box, view_url, wait_first_frame


class ButtonsArea(RecordingArea):
    """Also records releases, with the button released."""

    def on_mouse_up(self, render_area, connection, x, y, button):
        self.log.append(("mouse_up", render_area.id, button))
        return True


class ButtonsApp(RecordingApp):
    def on_instantiated_render_area(self, render_area):
        render_area.add_listener(ButtonsArea(self.log))


def test_a_key_released_after_shift_went_down_is_released_by_the_name_it_was_pressed_with(
        independent_service, new_page) -> None:
    app = RecordingApp()
    page = new_page(view_url(independent_service(app), area="Shift"))
    wait_first_frame(page)
    # As a keyboard does it: "a" down, Shift down, then the release of that key reads "A".
    page.evaluate("""() => {
        const view = document.querySelector('.remoteviz-view');
        view.focus();
        const key = (type, key, code, shiftKey) =>
            view.dispatchEvent(new KeyboardEvent(type, { key, code, shiftKey, bubbles: true }));
        key('keydown', 'a', 'KeyA', false);
        key('keydown', 'Shift', 'ShiftLeft', true);
        key('keyup', 'A', 'KeyA', true);
        key('keyup', 'Shift', 'ShiftLeft', false);
    }""")
    wait_until(lambda: len(app.entries("key_up")) == 2)
    assert app.entries("key_down") == [("Shift", "a"), ("Shift", "Shift")]
    assert app.entries("key_up") == [("Shift", "a"), ("Shift", "Shift")]


def test_a_right_drag_whose_pointer_is_taken_away_releases_the_right_button(independent_service, new_page) -> None:
    app = ButtonsApp()
    page = new_page(view_url(independent_service(app), area="Cancel"))
    wait_first_frame(page)
    box = view_box(page)
    page.evaluate("""document.querySelector('.remoteviz-view')
        .addEventListener('pointerdown', (e) => { window.__pointer = e.pointerId; })""")
    page.mouse.move(box["x"] + 100, box["y"] + 100)
    page.mouse.down(button="right")
    page.mouse.move(box["x"] + 120, box["y"] + 110)
    wait_until(lambda: app.entries("mouse_down"))
    # The browser takes the pointer over, as it does for a pen or a gesture: pointercancel.
    page.evaluate("""document.querySelector('.remoteviz-view').dispatchEvent(new PointerEvent(
        'pointercancel', { pointerId: window.__pointer, pointerType: 'mouse', bubbles: true }))""")
    wait_until(lambda: app.entries("mouse_up"))
    assert app.entries("mouse_down")[0][-1] == 2
    assert app.entries("mouse_up") == [("Cancel", 2)]


def test_a_view_disposed_by_its_own_disconnected_listener_does_not_reconnect(independent_service, new_page) -> None:
    app = RecordingApp()
    runner = independent_service(app)
    page = new_page(view_url(runner, area="Host"))
    wait_first_frame(page)
    page.evaluate("""async () => {
        window.__sockets = 0;
        const Original = WebSocket;
        window.WebSocket = class extends Original {
            constructor(...args) { super(...args); if (String(args[0]).includes("Reco")) window.__sockets += 1; }
        };
        const { RemoteVizRenderArea } = await import("/remoteviz/remoteviz.js");
        const div = document.createElement("div");
        document.body.appendChild(div);
        const area = new RemoteVizRenderArea(div, 100, 100, "FIT", { reconnect: { baseMs: 20, maxMs: 40 } });
        window.__events = [];
        area.addServiceListener((event) => {
            window.__events.push(event[0]);
            if (event[0] === "disconnected") area.dispose();
        });
        area.connectTo("/Reco");
    }""")
    page.wait_for_function("window.__events.includes('connected')")
    connection = runner.service.get_render_area("Reco").connections[0]
    runner.service._core.link_of(connection).close(CloseCode.NETWORKFAILURE, "network failure")  # a dropped link
    page.wait_for_function("window.__events.includes('disconnected')")
    time.sleep(0.4)  # ten reconnect delays
    assert page.evaluate("window.__sockets") == 1
    assert "reconnecting" not in page.evaluate("window.__events")


def test_a_container_resized_while_the_service_calibrates_gets_its_size_once_accepted(
        independent_service, new_page) -> None:
    class SlowStart(RecordingApp):
        def on_initialized_client(self, client, network_performance):
            time.sleep(0.6)  # after calibration, before accept: the page must wait for it

    runner = independent_service(SlowStart())
    # A page of the service's origin with no view of its own: this view is a new client, calibrated.
    page = new_page(f"http://127.0.0.1:{runner.service.port}/health")
    page.evaluate("""async () => {
        const { RemoteVizRenderArea } = await import("/remoteviz/remoteviz.js");
        const div = document.createElement("div");
        Object.assign(div.style, { position: "absolute", left: "0px", top: "400px", width: "200px", height: "100px" });
        document.body.appendChild(div);
        const area = new RemoteVizRenderArea(div, 200, 100, "FIT", { autoResize: true, resizeDelayMs: 50 });
        // The container changes after hello has gone and before accept has come.
        area.addServiceListener((event) => {
            if (event[0] === "finishedNetworkCalibration") { div.style.width = "260px"; div.style.height = "120px"; }
        });
        area.connectTo("/Grown");
    }""")
    wait_until(lambda: (area := runner.service.get_render_area("Grown")) is not None
               and (area.width, area.height) == (260, 120), timeout=10)
