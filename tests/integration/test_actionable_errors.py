"""Errors a user can act on: a port in use, a wrong OpenGL platform, a refused render area, an id
written with a trailing slash."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys

import pytest

import remoteviz as rv
from remoteviz import client
from remoteviz.client import ServiceClosed

from .harness import Recorder, running_service


def test_a_port_in_use_raises_an_oserror_naming_the_port_with_the_cause_chained() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError) as raised:
            rv.Service().run(rv.ServiceSettings(host="127.0.0.1", port=port))
    assert f"port {port} is in use" in str(raised.value)
    assert isinstance(raised.value.__cause__, OSError)
    assert "address already in use" in str(raised.value.__cause__)


def test_a_wrong_pyopengl_platform_is_named_as_the_cause() -> None:
    script = ("import remoteviz as rv\n"
              "manager = rv.SceneManager()\n"
              "manager.scene_graph = rv.Cone()\n"
              "try:\n"
              "    manager.render(16, 16)\n"
              "except rv.RenderingUnavailableError as error:\n"
              "    print(error)\n")
    env = {"PATH": "/usr/bin:/bin", "PYOPENGL_PLATFORM": "bogus"}  # no display: EGL is wanted
    printed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                             timeout=60, check=True).stdout
    assert "PYOPENGL_PLATFORM='bogus'" in printed and "PYOPENGL_PLATFORM=egl" in printed
    assert "imported before" not in printed  # the import order was fine: it is not blamed


def test_an_id_with_a_trailing_slash_is_the_same_render_area(recorder: Recorder) -> None:
    async def scenario(runner) -> tuple[str, str]:
        async with client.connect(runner.url("Parts")) as first, client.connect(runner.url("Parts/")) as second:
            return first.accept.render_area_id, second.accept.render_area_id

    with running_service(recorder) as runner:
        ids = asyncio.run(scenario(runner))
    assert ids == ("Parts", "Parts")
    assert [e for e in recorder.log if e[0] == "on_instantiated_render_area"] == [
        ("on_instantiated_render_area", "Parts")]


def test_a_refusal_is_logged_with_the_id_and_the_reason(recorder: Recorder, caplog) -> None:
    recorder.refuse = True

    async def scenario(url: str) -> None:
        with pytest.raises(ServiceClosed):
            async with client.connect(url):
                pass

    caplog.set_level(logging.WARNING, logger="remoteviz")
    with running_service(recorder) as runner:
        asyncio.run(scenario(runner.url("Secret")))
    assert "refused 127.0.0.1 for render area 'Secret': the application refused to create this render area" \
        in caplog.text
