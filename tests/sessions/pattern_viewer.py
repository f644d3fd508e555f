"""A real remoteviz service (INDEPENDENT_SERVICE, numpy frames) for the proxy tests, unchanged by the manager.

Every frame is a deterministic pattern numbered by the frame count; every mouse down and app
message is answered with an app message naming it, so a test sees that input reached it.
App messages: ``digest`` answers the SHA-256 of the last frame payload sent to this connection,
``kick`` closes the connection (KICKED, 4003), ``dispose`` disposes the area (DISPOSED, 4001).
Each connection's end is appended to ``$FAKE_PID_DIR/closes``.
"""

import hashlib
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script by the manager

import remoteviz as rv  # noqa: E402
from tests.integration.harness import pattern  # noqa: E402

CLOSES = os.path.join(os.environ["FAKE_PID_DIR"], "closes") if os.environ.get("FAKE_PID_DIR") else None


class Area(rv.RenderAreaListener):
    def __init__(self) -> None:
        self.frames = 0

    def on_requested_frame(self, render_area, connection):
        self.frames += 1
        return pattern(render_area.width, render_area.height, self.frames), False

    def on_closed_connection(self, render_area, connection_id, aborted):
        if CLOSES:  # where the tests read how each connection ended
            with open(CLOSES, "a") as f:
                f.write(f"{connection_id} aborted={aborted}\n")

    def on_mouse_down(self, render_area, connection, x, y, button):
        connection.send_message(f"mouse down {x} {y} {button}")

    def on_received_message(self, render_area, connection, message):
        if message == "kick":
            connection.close()
        elif message == "dispose":
            render_area.close_connections_and_dispose()
        elif message == "digest":  # what the service sent this connection last, for byte comparisons
            connection.send_message("digest " + hashlib.sha256(connection.last_encoded_frame or b"").hexdigest())
        elif message == "redraw":
            render_area.request_redraw()
        else:
            connection.send_message(f"echo {message}")


class App(rv.ServiceListener):
    def on_instantiated_render_area(self, render_area):
        render_area.add_listener(Area())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    service = rv.Service.instance()
    service.add_listener(App())
    service.run(rv.ServiceSettings(port=0, run_mode=rv.RunMode.INDEPENDENT_SERVICE))
