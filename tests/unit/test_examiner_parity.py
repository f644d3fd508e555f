"""The page's examiner (client-js/src/examiner.js, used by single-file exports) moves a camera as
the service's SceneExaminer does, for the same messages: run both, compare the cameras."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import remoteviz as rv
from remoteviz.protocol import parse_client_text
from remoteviz.scene_sync.records import camera_fields

EXAMINER = Path(__file__).resolve().parents[2] / "client-js" / "src" / "examiner.js"

MESSAGES = [
    {"type": "mouse", "action": "down", "x": 100, "y": 80, "button": 0, "buttons": 1, "mods": 0},
    {"type": "mouse", "action": "move", "x": 130, "y": 95, "button": 0, "buttons": 1, "mods": 0},
    {"type": "mouse", "action": "move", "x": 160, "y": 60, "button": 0, "buttons": 1, "mods": 0},
    {"type": "mouse", "action": "up", "x": 160, "y": 60, "button": 0, "buttons": 0, "mods": 0},
    {"type": "wheel", "x": 10, "y": 10, "delta": 2.5, "mods": 0},
    {"type": "mouse", "action": "down", "x": 50, "y": 50, "button": 1, "buttons": 4, "mods": 0},
    {"type": "mouse", "action": "move", "x": 70, "y": 40, "button": 1, "buttons": 4, "mods": 0},
    {"type": "mouse", "action": "up", "x": 70, "y": 40, "button": 1, "buttons": 0, "mods": 0},
    {"type": "mouse", "action": "down", "x": 50, "y": 50, "button": 2, "buttons": 2, "mods": 0},
    {"type": "mouse", "action": "move", "x": 50, "y": 90, "button": 2, "buttons": 2, "mods": 0},
    {"type": "mouse", "action": "up", "x": 50, "y": 90, "button": 2, "buttons": 0, "mods": 0},
    {"type": "mouse", "action": "down", "x": 50, "y": 50, "button": 0, "buttons": 1, "mods": 1},
    {"type": "mouse", "action": "move", "x": 20, "y": 70, "button": 0, "buttons": 1, "mods": 1},
    {"type": "mouse", "action": "up", "x": 20, "y": 70, "button": 0, "buttons": 0, "mods": 1},
]


@pytest.mark.parametrize("camera_class", [rv.PerspectiveCamera, rv.OrthographicCamera])
@pytest.mark.parametrize("home", [False, True])
def test_the_page_examiner_moves_the_camera_as_the_service_does(camera_class, home) -> None:
    node = shutil.which("node")
    assert node, "node runs the client's tests (.ci/install installs it)"
    manager = rv.SceneManager()
    examiner = rv.SceneExaminer(camera=camera_class())
    examiner.add_child(rv.Cone())
    manager.scene_graph = examiner
    examiner.view_all(rv.Viewport(240, 160))
    start = camera_fields(examiner.camera, np.eye(4))
    messages = MESSAGES + ([{"type": "key", "action": "down", "x": 0, "y": 0, "key": "Home", "mods": 0}] if home else [])
    script = f"""
        import {{ Examiner }} from {json.dumps(EXAMINER.as_uri())};
        const examiner = new Examiner({json.dumps(start)});
        for (const message of {json.dumps(messages)}) examiner.handle(message, {{ width: 240, height: 160 }});
        console.log(JSON.stringify(examiner.camera));
    """
    page = json.loads(subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True,
                                     check=True, timeout=30).stdout)
    for message in messages:
        manager.process_event(parse_client_text(json.dumps(message)).event, 240, 160)
    service = camera_fields(examiner.camera, np.eye(4))
    if home:
        assert page["position"] == pytest.approx(start["position"])
    for key in ("position", "orientation", "focal_distance", "height"):
        assert page[key] == pytest.approx(service[key], rel=1e-9, abs=1e-9), key
