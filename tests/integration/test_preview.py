"""The preview window on a display: a real GLFW window on a virtual X display (Xvfb).

The process that opens it must see DISPLAY before remoteviz chooses its OpenGL backend, so the
check runs in a child process started by xvfb-run.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent("""
    import numpy as np
    import remoteviz as rv
    from remoteviz.rendering.preview import PreviewWindow
    from remoteviz.rendering.scene_manager import SceneManager

    scene = SceneManager()
    examiner = rv.SceneExaminer()
    examiner.add_child(rv.GradientBackground())
    examiner.add_child(rv.Cone())
    scene.scene_graph = examiner
    examiner.view_all(rv.Viewport(160, 120))
    frame = scene.render(160, 120)              # through the hidden GLFW context

    window = PreviewWindow("remoteviz test")
    assert window.show(frame)
    shown = window.snapshot()
    assert shown.shape == frame.shape, shown.shape
    difference = np.abs(shown.astype(int) - frame.astype(int)).max()
    assert difference <= 2, difference          # the same picture, the same way up
    top, bottom = shown[2, 80].astype(int), shown[117, 2].astype(int)
    assert shown[60, 80].mean() > bottom.mean() + 40    # the cone, lighter than the background
    window.close()
    assert not window.is_open and not window.show(frame)
    print("preview ok")
""")


def on_a_display(script: str) -> subprocess.CompletedProcess:
    """Run ``script`` in a child process on a virtual display, from the repository's root.

    The child chooses its OpenGL backend afresh: this process's EGL choice is not handed down.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYOPENGL_PLATFORM", "EGL_PLATFORM")}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return subprocess.run(["xvfb-run", "-a", sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env=env, cwd=root)


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason=".ci/install installs xvfb")
def test_a_preview_window_shows_the_rendered_frame_on_a_display() -> None:
    result = on_a_display(CHILD)
    assert result.returncode == 0 and "preview ok" in result.stdout, result.stdout + result.stderr


def test_without_a_display_asking_for_a_preview_says_why() -> None:
    import remoteviz as rv
    from remoteviz.rendering.preview import PreviewWindow

    with pytest.raises(rv.RenderingUnavailableError, match="needs a display"):
        PreviewWindow("nowhere")


SERVICE_CHILD = textwrap.dedent("""
    import asyncio, sys, threading
    import numpy as np
    import remoteviz as rv
    from remoteviz import client
    sys.path.insert(0, "examples/hello_cone")
    import hello_cone

    # GLFW wants its windows handled on the main thread: dispatch() runs there, as run() does.
    service = rv.Service()
    service.add_listener(hello_cone.HelloConeServiceListener(preview=True))
    assert service.open(rv.ServiceSettings(port=0))
    area = service.create_render_area("TheCone", 120, 90)   # kept, to read its preview after
    received = []
    async def view():
        async with client.connect(f"ws://127.0.0.1:{service.port}/TheCone") as v:
            received.append((await v.latest_frame(settle=0.3)).image)
    viewer = threading.Thread(target=lambda: asyncio.run(view()))
    viewer.start()
    while viewer.is_alive():
        service.dispatch(0.02)
    shown = area._preview.snapshot()
    service.close()
    assert received, "no frame arrived"
    assert np.abs(shown.astype(int) - received[0].astype(int)).max() <= 2
    print("service preview ok")
""")


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason=".ci/install installs xvfb")
def test_hello_cone_with_preview_shows_what_it_streams() -> None:
    result = on_a_display(SERVICE_CHILD)
    assert result.returncode == 0 and "service preview ok" in result.stdout, result.stdout + result.stderr
