"""Which OpenGL backend to use, decided before PyOpenGL is first imported.

PyOpenGL picks its platform (GLX, EGL, ...) once, at its first import, from ``PYOPENGL_PLATFORM``.
A server without a display needs EGL, so this module runs when :mod:`remoteviz.rendering` is
imported and sets the environment up before any module here imports OpenGL. It imports no OpenGL
itself.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import sys

#: Environment variable that forces a backend ("egl" or "glfw"), e.g. EGL on a desktop.
BACKEND_VARIABLE = "REMOTEVIZ_GL_BACKEND"

#: The Debian packages that provide headless OpenGL, named in error messages.
HEADLESS_PACKAGES = "libegl1 libgl1-mesa-dri"


class RenderingUnavailableError(RuntimeError):
    """No OpenGL context can be made on this machine; the message says what to install."""


class Backend(enum.Enum):
    """How the OpenGL context is made."""

    EGL = "egl"  # headless: Mesa surfaceless, or a GPU through EGL_EXT_platform_device
    GLFW = "glfw"  # a hidden window on the desktop's display


def has_display() -> bool:
    """Tell whether a windowing system is available to this process."""
    if sys.platform != "linux":
        return True  # Windows and macOS always have one; neither offers EGL
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def choose_backend() -> Backend:
    """The backend forced by ``REMOTEVIZ_GL_BACKEND``, else EGL when PyOpenGL is set to EGL or
    there is no display, else GLFW."""
    forced = os.environ.get(BACKEND_VARIABLE, "").strip().lower()
    if forced:
        try:
            return Backend(forced)
        except ValueError:
            raise RenderingUnavailableError(
                f"{BACKEND_VARIABLE}={forced!r} is not one of: egl, glfw"
            ) from None
    if os.environ.get("PYOPENGL_PLATFORM", "").lower() == "egl":
        return Backend.EGL  # PyOpenGL is bound to EGL: a GLFW window's context would not match it
    return Backend.GLFW if has_display() else Backend.EGL


_opengl_was_imported_first = False  # PyOpenGL was loaded before configure_pyopengl() could choose


def configure_pyopengl() -> None:
    """Point PyOpenGL at EGL when EGL will be used; values the user already set are kept."""
    global _opengl_was_imported_first
    if "OpenGL" in sys.modules:
        _opengl_was_imported_first = True
        return  # too late to choose: PyOpenGL has read its platform already
    try:
        backend = choose_backend()
    except RenderingUnavailableError:
        return  # an invalid choice is reported when a context is made, not at import time
    if backend is Backend.EGL:
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        os.environ.setdefault("EGL_PLATFORM", "surfaceless")


def why_not_egl(loaded_platform: str) -> str:
    """Why PyOpenGL is bound to ``loaded_platform`` (its platform class's name) instead of EGL,
    and what to do: the message of the error raised when an EGL context is wanted."""
    chosen = os.environ.get("PYOPENGL_PLATFORM", "")
    if chosen and chosen.lower() != "egl":
        return (f"PYOPENGL_PLATFORM={chosen!r} makes PyOpenGL load {loaded_platform}, not EGL; unset it "
                f"or set PYOPENGL_PLATFORM=egl (or {BACKEND_VARIABLE}=glfw where there is a display)")
    if _opengl_was_imported_first:
        return (f"PyOpenGL was imported before remoteviz.rendering and loaded {loaded_platform}, not EGL; "
                "import remoteviz first, or set PYOPENGL_PLATFORM=egl before starting Python")
    return (f"PyOpenGL loaded {loaded_platform}, not EGL; set PYOPENGL_PLATFORM=egl before starting "
            "Python")


#: Environment variable that picks the EGL device: an index among EGL's devices, a part of a
#: device's name (``nvidia``, ``renderD129``), or ``mesa`` for Mesa's CPU renderer (llvmpipe).
DEVICE_VARIABLE = "REMOTEVIZ_EGL_DEVICE"

#: Names of Mesa's CPU renderer, reached through the surfaceless platform rather than a device.
SOFTWARE_NAMES = ("mesa", "software", "llvmpipe", "cpu")

_device_choice: str | None = None  # set by choose_device(); the environment variable otherwise


@dataclasses.dataclass(frozen=True)
class EGLDevice:
    """What EGL says of one of its devices (``EGL_EXT_device_enumeration``), before any context."""

    index: int
    extensions: frozenset[str]
    name: str  # the renderer name (EGL_EXT_device_query_name) or device file, when EGL tells them

    @property
    def is_software(self) -> bool:
        """Mesa's CPU renderer (llvmpipe), which the surfaceless platform reaches as well."""
        return "EGL_MESA_device_software" in self.extensions

    def describe(self) -> str:
        """``device 0 (NVIDIA H100 80GB HBM3)``, for logs and errors."""
        return f"device {self.index}" + (f" ({self.name})" if self.name else "")


def choose_device(spec: str | None) -> None:
    """Pick the EGL device of the contexts made from now on (``ServiceSettings.gl_device``); None
    goes back to ``REMOTEVIZ_EGL_DEVICE``, then to the default order (see :func:`order_devices`)."""
    global _device_choice
    _device_choice = spec.strip() if spec and spec.strip() else None


def device_choice() -> str:
    """The device asked for: :func:`choose_device`'s, else ``REMOTEVIZ_EGL_DEVICE``'s, else ``""``."""
    return _device_choice or os.environ.get(DEVICE_VARIABLE, "").strip()


def order_devices(devices: list[EGLDevice], spec: str) -> tuple[list[EGLDevice], bool]:
    """The devices to try, best first, and whether Mesa's surfaceless platform may follow them.

    With no ``spec``: every hardware device in EGL's order, then Mesa. A number: that device only.
    ``mesa`` (``software``, ``llvmpipe``, ``cpu``): Mesa only. Any other text: the hardware devices
    whose name contains it, case aside. A spec that matches nothing raises
    :class:`RenderingUnavailableError` naming the devices there are, so that a deployment asking
    for a GPU never ends up on the CPU without being told.
    """
    hardware = [device for device in devices if not device.is_software]
    if not spec:
        return hardware, True
    known = ", ".join(device.describe() for device in devices) or "none"
    if spec.lower() in SOFTWARE_NAMES:
        return [], True
    if spec.isdigit():
        chosen = [device for device in devices if device.index == int(spec)]
        if not chosen:
            raise RenderingUnavailableError(f"{DEVICE_VARIABLE}={spec}: there is no EGL device {spec} "
                                            f"(EGL's devices: {known})")
        return ([], True) if chosen[0].is_software else (chosen, False)
    chosen = [device for device in hardware if spec.lower() in device.name.lower()]
    if not chosen:
        raise RenderingUnavailableError(f"{DEVICE_VARIABLE}={spec!r} names no EGL device (EGL's devices: {known})")
    return chosen, False
