"""Which OpenGL backend to use, decided before PyOpenGL is first imported.

PyOpenGL picks its platform (GLX, EGL, ...) once, at its first import, from ``PYOPENGL_PLATFORM``.
A server without a display needs EGL, so this module runs when :mod:`remoteviz.rendering` is
imported and sets the environment up before any module here imports OpenGL. It imports no OpenGL
itself.
"""

from __future__ import annotations

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


def configure_pyopengl() -> None:
    """Point PyOpenGL at EGL when EGL will be used; values the user already set are kept."""
    if "OpenGL" in sys.modules:
        return  # too late to choose: PyOpenGL has read its platform already
    try:
        backend = choose_backend()
    except RenderingUnavailableError:
        return  # an invalid choice is reported when a context is made, not at import time
    if backend is Backend.EGL:
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        os.environ.setdefault("EGL_PLATFORM", "surfaceless")
