"""A real remoteviz service (INDEPENDENT_SERVICE, numpy frames) for the proxy tests, unchanged by the manager.

Every frame is a deterministic pattern numbered by the frame count, and its text (the frame
header's) is ``pixels `` and the SHA-256 of the pixels it was drawn from; frames are PNG (lossless),
so a client checks that each arrived exactly as drawn (:func:`drawn_as_received`). Every
mouse down and app message is answered with an app message naming it, so a test sees that input
reached it. App messages: ``kick`` closes the connection (KICKED, 4003), ``dispose`` disposes the
area (DISPOSED, 4001).
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


def pixels_text(image) -> str:
    return "pixels " + hashlib.sha256(image.tobytes()).hexdigest()


def drawn_as_received(frame) -> bool:
    """Whether a frame (a ``client.ReceivedFrame``) holds exactly the pixels it was drawn from."""
    return frame.frame.codec is rv.Codec.PNG and frame.frame.text == pixels_text(frame.image)


class Area(rv.RenderAreaListener):
    def __init__(self) -> None:
        self.frames = 0
        self.drawn = "pixels"

    def on_requested_frame(self, render_area, connection):
        self.frames += 1
        image = pattern(render_area.width, render_area.height, self.frames)
        self.drawn = pixels_text(image)
        return image, False

    def on_opened_connection(self, render_area, connection, frame_encoders):
        frame_encoders.set_encoders("png")

    def on_sending_frame(self, render_area, connection):
        return self.drawn  # the frame being encoded is the one drawn last: the next waits for its plan

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
