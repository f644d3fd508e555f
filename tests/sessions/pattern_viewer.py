"""A real remoteviz service (INDEPENDENT_SERVICE, numpy frames) for the proxy tests, unchanged by the manager.

Every frame is a deterministic pattern numbered by the frame count; every mouse event and app
message is answered with an app message naming it, so a test sees that input reached it; ``digest`` answers the SHA-256 of the
last frame payload sent to this connection. An app
message ``kick`` closes the connection (KICKED, 4003), ``dispose`` disposes the area (DISPOSED, 4001).
"""

import hashlib
import logging
import os

import numpy as np

import remoteviz as rv


CLOSES = os.path.join(os.environ["FAKE_PID_DIR"], "closes") if os.environ.get("FAKE_PID_DIR") else None


def pattern(width: int, height: int, seed: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = (x * 255 // max(1, width - 1) + seed * 37) % 256
    image[..., 1] = (y * 255 // max(1, height - 1)) % 256
    image[..., 2] = ((x // 8 + y // 8 + seed) % 2) * 200
    return image


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
