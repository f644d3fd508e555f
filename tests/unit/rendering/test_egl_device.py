"""Which EGL device renders: the order of the devices tried, the choice by number or name, Mesa's
fallback, and that the chosen renderer is logged and reported at /metrics (issue 24).

The order is a pure function, tested on made-up device lists like a GPU server's; the real
enumeration runs on this machine's EGL (Mesa: one software device), in subprocesses, since a
process keeps the contexts it made.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from remoteviz.rendering.gl_platform import DEVICE_VARIABLE, EGLDevice, RenderingUnavailableError, order_devices

MESA = EGLDevice(0, frozenset({"EGL_MESA_device_software", "EGL_EXT_device_drm_render_node"}), "")
H100 = EGLDevice(1, frozenset({"EGL_EXT_device_query_name", "EGL_EXT_device_drm"}), "NVIDIA H100 80GB HBM3")
L4 = EGLDevice(2, frozenset({"EGL_EXT_device_query_name"}), "NVIDIA L4")
AMD = EGLDevice(3, frozenset({"EGL_EXT_device_drm_render_node"}), "/dev/dri/renderD129")
SERVER = [MESA, H100, L4, AMD]


def indices(devices: list[EGLDevice]) -> list[int]:
    return [device.index for device in devices]


def test_by_default_every_hardware_device_in_egl_order_then_mesa() -> None:
    chosen, mesa = order_devices(SERVER, "")
    assert indices(chosen) == [1, 2, 3] and mesa
    assert order_devices([MESA], "") == ([], True)  # a CPU machine: Mesa only


def test_a_number_picks_that_device_and_never_falls_back_to_the_cpu() -> None:
    assert order_devices(SERVER, "2") == ([L4], False)
    assert order_devices(SERVER, "0") == ([], True)  # the software device is Mesa's surfaceless path


def test_a_name_picks_the_hardware_devices_whose_name_contains_it_case_aside() -> None:
    assert order_devices(SERVER, "nvidia") == ([H100, L4], False)
    assert order_devices(SERVER, "h100") == ([H100], False)
    assert order_devices(SERVER, "renderD129") == ([AMD], False)
    for spec in ("mesa", "LLVMpipe", "software", "cpu"):
        assert order_devices(SERVER, spec) == ([], True)


@pytest.mark.parametrize("spec", ["7", "radeon"])
def test_a_device_that_is_not_there_is_an_error_listing_those_that_are(spec: str) -> None:
    with pytest.raises(RenderingUnavailableError) as raised:
        order_devices(SERVER, spec)
    message = str(raised.value)
    assert DEVICE_VARIABLE in message and spec in message
    assert "device 1 (NVIDIA H100 80GB HBM3)" in message and "device 0" in message


_RENDER = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
import remoteviz as rv
from remoteviz.rendering.context import egl_devices, opengl_renderers
manager = rv.SceneManager()
manager.scene_graph = rv.Cone()
try:
    image = manager.render(16, 16)
except rv.RenderingUnavailableError as error:
    print("UNAVAILABLE", error)
else:
    print("DEVICES", [device.describe() + (" software" if device.is_software else "") for device, _ in egl_devices()])
    print("RENDERED", image.shape, opengl_renderers())
"""


def render_with(spec: str | None) -> str:
    env = {key: value for key, value in os.environ.items() if key != DEVICE_VARIABLE}
    env.update(PYOPENGL_PLATFORM="egl", EGL_PLATFORM="surfaceless")
    if spec is not None:
        env[DEVICE_VARIABLE] = spec
    done = subprocess.run([sys.executable, "-c", _RENDER], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def has_hardware_device() -> bool:
    from remoteviz.rendering.context import egl_devices

    return any(not device.is_software for device, _ in egl_devices())


@pytest.mark.parametrize("spec", [None, "mesa", "0"])
def test_on_a_cpu_machine_mesa_renders_and_the_renderer_is_logged_once(spec: str | None) -> None:
    if has_hardware_device() and spec != "mesa":
        pytest.skip("a GPU server: see test_on_a_gpu_server_the_gpu_renders_by_default")
    printed = render_with(spec)
    assert "RENDERED (16, 16, 3)" in printed, printed
    assert "'llvmpipe" in printed and "'surfaceless')" in printed  # opengl_renderers(): (renderer, display)
    logged = [line for line in printed.splitlines() if line.startswith("remoteviz.rendering OpenGL renderer:")]
    assert len(logged) == 1 and "llvmpipe" in logged[0] and "through surfaceless" in logged[0], printed
    assert "DEVICES ['device 0 software']" in printed or spec == "mesa"  # Mesa's device: reached as surfaceless


@pytest.mark.parametrize("spec", [None, "nvidia"])
def test_on_a_gpu_server_the_gpu_renders_by_default(spec: str | None) -> None:
    """Runs on the device machine (benchmarks/gpu_device/check.sh); skipped on CPU machines."""
    if not has_hardware_device():
        pytest.skip("no hardware EGL device on this machine")
    printed = render_with(spec)
    assert "RENDERED (16, 16, 3)" in printed, printed
    assert "llvmpipe" not in printed.split("RENDERED", 1)[1] and "'device " in printed, printed


def test_asking_for_a_gpu_on_a_cpu_machine_says_so_instead_of_rendering_on_the_cpu() -> None:
    if has_hardware_device():
        pytest.skip("a GPU server: see test_on_a_gpu_server_the_gpu_renders_by_default")
    printed = render_with("nvidia")
    assert "UNAVAILABLE" in printed and "RENDERED" not in printed, printed
    assert f"{DEVICE_VARIABLE}='nvidia' names no EGL device" in printed and "device 0" in printed


def test_the_setting_wins_over_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from remoteviz.rendering import gl_platform

    monkeypatch.setenv(DEVICE_VARIABLE, "1")
    try:
        assert gl_platform.device_choice() == "1"
        gl_platform.choose_device(" nvidia ")  # what Service.open does with ServiceSettings.gl_device
        assert gl_platform.device_choice() == "nvidia"
    finally:
        gl_platform.choose_device(None)
    assert gl_platform.device_choice() == "1"
