"""OpenGL 3.3 core contexts: headless through EGL, or a hidden GLFW window on a desktop.

EGL display candidates are tried in order: a GPU through ``EGL_EXT_platform_device`` (NVIDIA's
headless path, or a Mesa DRM render node), Mesa's surfaceless platform (llvmpipe on CPU), then the
default display. Rendering goes to framebuffer objects, so no context needs a surface.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from remoteviz.rendering.gl_platform import (
    BACKEND_VARIABLE,
    HEADLESS_PACKAGES,
    Backend,
    EGLDevice,
    RenderingUnavailableError,
    choose_backend,
    device_choice,
    order_devices,
    why_not_egl,
)

_EGL_PLATFORM_SURFACELESS_MESA = 0x31DD  # not among PyOpenGL's constants

log = logging.getLogger("remoteviz.rendering")

_made: dict[tuple[str, str], int] = {}  # (GL_RENDERER, how it was reached) -> contexts made
_made_lock = threading.Lock()  # render threads make their contexts at once


def _address(handle: Any) -> int | None:
    """The address behind a ctypes handle, so that two handles can be compared."""
    return ctypes.cast(handle, ctypes.c_void_p).value


class GLContext(ABC):
    """An OpenGL 3.3 core profile context that can be made current on the calling thread."""

    backend: Backend
    renderer_name = ""  # the GL_RENDERER string, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
    display_kind = ""  # how it was reached: "device 0 (NVIDIA H100 80GB HBM3)", "surfaceless", "GLFW window"

    @abstractmethod
    def make_current(self) -> None:
        """Make the context current on this thread (cheap when it already is)."""

    @abstractmethod
    def release(self) -> None:
        """Unbind the context from this thread, so that another thread may make it current."""


class EGLContext(GLContext):
    """A context without any window, through EGL."""

    backend = Backend.EGL

    def __init__(self) -> None:
        import OpenGL.platform
        from OpenGL import EGL
        from OpenGL.error import Error as GLLibraryError

        loaded = type(OpenGL.platform.PLATFORM).__name__
        if loaded != "EGLPlatform":
            raise RenderingUnavailableError(why_not_egl(loaded))
        self._egl = EGL
        failures = []
        for label, get_display in _egl_display_candidates(EGL):
            try:
                self._display, self._context = _egl_create_context(EGL, get_display())
            except GLLibraryError as error:
                failures.append(f"{label}: {error.__class__.__name__} {getattr(error, 'err', error)}")
                continue
            self.display_kind = label
            return
        raise RenderingUnavailableError(
            "No EGL display could make an OpenGL 3.3 core context ("
            + "; ".join(failures)
            + f"). On Debian or Ubuntu install the Mesa drivers: apt-get install {HEADLESS_PACKAGES}"
        )

    def make_current(self) -> None:
        """Bind the context to this thread with no surface (EGL_KHR_surfaceless_context)."""
        egl = self._egl
        if _address(egl.eglGetCurrentContext()) == _address(self._context):
            return
        if not egl.eglMakeCurrent(self._display, egl.EGL_NO_SURFACE, egl.EGL_NO_SURFACE, self._context):
            raise RenderingUnavailableError(
                "eglMakeCurrent failed: is the context current on another thread?"
            )

    def release(self) -> None:
        """Unbind the context from this thread."""
        egl = self._egl
        egl.eglMakeCurrent(self._display, egl.EGL_NO_SURFACE, egl.EGL_NO_SURFACE, egl.EGL_NO_CONTEXT)


_EGL_DEVICE_NAMES = (  # a device's name, best first: (extension, attribute)
    ("EGL_EXT_device_query_name", 0x335F),  # EGL_RENDERER_EXT: "NVIDIA H100 80GB HBM3"
    ("EGL_EXT_device_drm_render_node", 0x3377),  # EGL_DRM_RENDER_NODE_FILE_EXT: "/dev/dri/renderD128"
    ("EGL_EXT_device_drm", 0x3233),  # EGL_DRM_DEVICE_FILE_EXT: "/dev/dri/card0"
)


def egl_devices() -> list[tuple[EGLDevice, Any]]:
    """EGL's devices (``EGL_EXT_device_enumeration``), described, each with its handle."""
    from OpenGL import EGL
    from OpenGL.EGL.EXT.device_base import egl_get_devices, eglQueryDeviceStringEXT
    from OpenGL.error import Error as GLLibraryError

    devices = []
    for index, handle in enumerate(egl_get_devices()):
        extensions = frozenset((eglQueryDeviceStringEXT(handle, EGL.EGL_EXTENSIONS) or b"").decode().split())
        name = ""
        for extension, attribute in _EGL_DEVICE_NAMES:
            if extension in extensions and not name:
                try:
                    name = (eglQueryDeviceStringEXT(handle, attribute) or b"").decode(errors="replace")
                except GLLibraryError:  # e.g. Mesa's software device has no DRM node to name
                    name = ""
        devices.append((EGLDevice(index, extensions, name), handle))
    return devices


def _egl_display_candidates(egl: Any) -> Iterator[tuple[str, Callable[[], Any]]]:
    """EGL displays worth trying, best first, each as a label and a function that opens it:
    the devices :func:`~remoteviz.rendering.gl_platform.order_devices` picks, then Mesa's
    surfaceless platform and the default display where it allows them."""
    from OpenGL.EGL.EXT.platform_base import eglGetPlatformDisplayEXT
    from OpenGL.EGL.EXT.platform_device import EGL_PLATFORM_DEVICE_EXT
    from OpenGL.error import Error as GLLibraryError

    try:
        client_extensions = (egl.eglQueryString(egl.EGL_NO_DISPLAY, egl.EGL_EXTENSIONS) or b"").split()
    except GLLibraryError:  # EGL 1.4 without client extensions
        client_extensions = []
    spec = device_choice()
    devices = egl_devices() if b"EGL_EXT_platform_device" in client_extensions else []
    handles = {device.index: handle for device, handle in devices}
    chosen, mesa_allowed = order_devices([device for device, _ in devices], spec)
    for device in chosen:
        yield device.describe(), partial(eglGetPlatformDisplayEXT, EGL_PLATFORM_DEVICE_EXT, handles[device.index], None)
    if not mesa_allowed:
        return  # a device was asked for by name or number: never fall back to the CPU silently
    if b"EGL_MESA_platform_surfaceless" in client_extensions:
        yield (
            "surfaceless",
            partial(eglGetPlatformDisplayEXT, _EGL_PLATFORM_SURFACELESS_MESA, egl.EGL_DEFAULT_DISPLAY, None),
        )
    yield "default display", partial(egl.eglGetDisplay, egl.EGL_DEFAULT_DISPLAY)


def _egl_create_context(egl: Any, display: Any) -> tuple[Any, Any]:
    """Initialize ``display`` and make a current 3.3 core context on it."""
    major, minor = egl.EGLint(), egl.EGLint()
    egl.eglInitialize(display, ctypes.pointer(major), ctypes.pointer(minor))
    try:
        egl.eglBindAPI(egl.EGL_OPENGL_API)
        attributes = (egl.EGLint * 5)(
            egl.EGL_SURFACE_TYPE,
            egl.EGL_PBUFFER_BIT,
            egl.EGL_RENDERABLE_TYPE,
            egl.EGL_OPENGL_BIT,
            egl.EGL_NONE,
        )
        config, count = egl.EGLConfig(), egl.EGLint()
        egl.eglChooseConfig(display, attributes, ctypes.pointer(config), 1, ctypes.pointer(count))
        if count.value == 0:
            # No pbuffer config: EGL_KHR_no_config_context still allows a context without one.
            config = egl.EGLConfig()
        context_attributes = (egl.EGLint * 7)(
            egl.EGL_CONTEXT_MAJOR_VERSION,
            3,
            egl.EGL_CONTEXT_MINOR_VERSION,
            3,
            egl.EGL_CONTEXT_OPENGL_PROFILE_MASK,
            egl.EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
            egl.EGL_NONE,
        )
        context = egl.eglCreateContext(display, config, egl.EGL_NO_CONTEXT, context_attributes)
        egl.eglMakeCurrent(display, egl.EGL_NO_SURFACE, egl.EGL_NO_SURFACE, context)
    except Exception:
        egl.eglTerminate(display)
        raise
    return display, context


class GLFWContext(GLContext):
    """A context in a hidden GLFW window, for machines with a display."""

    backend = Backend.GLFW
    display_kind = "GLFW window"

    def __init__(self) -> None:
        try:
            import glfw
        except ImportError as error:  # the glfw wheel is there, but libglfw3 is not
            raise RenderingUnavailableError(
                f"GLFW is not usable ({error}). Install libglfw3, or set {BACKEND_VARIABLE}=egl"
            ) from error
        self._glfw = glfw
        if not glfw.init():
            raise RenderingUnavailableError(
                f"GLFW could not reach the display. Set {BACKEND_VARIABLE}=egl (and install "
                f"{HEADLESS_PACKAGES}) to render without one"
            )
        for hint, value in (
            (glfw.VISIBLE, glfw.FALSE),
            (glfw.CONTEXT_VERSION_MAJOR, 3),
            (glfw.CONTEXT_VERSION_MINOR, 3),
            (glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE),
            (glfw.OPENGL_FORWARD_COMPAT, glfw.TRUE),  # macOS gives 3.3 core only with this
        ):
            glfw.window_hint(hint, value)
        self._window = glfw.create_window(16, 16, "remoteviz", None, None)
        if not self._window:
            raise RenderingUnavailableError("GLFW could not create an OpenGL 3.3 core context")
        glfw.make_context_current(self._window)

    @property
    def window(self) -> Any:
        """The hidden GLFW window whose context this is (preview windows share its objects)."""
        return self._window

    def make_current(self) -> None:
        """Make the hidden window's context current."""
        if _address(self._glfw.get_current_context()) != _address(self._window):
            self._glfw.make_context_current(self._window)

    def release(self) -> None:
        """Unbind the context from this thread."""
        self._glfw.make_context_current(None)  # type: ignore[arg-type]  # None unbinds


def create_context() -> GLContext:
    """Make a context with the backend :func:`~remoteviz.rendering.gl_platform.choose_backend` picks
    (and, through EGL, the device :func:`~remoteviz.rendering.gl_platform.order_devices` picks); the
    first context on each renderer is logged, so a deployment sees whether it got its GPU."""
    if choose_backend() is Backend.GLFW:
        context: GLContext = GLFWContext()
    else:
        context = EGLContext()
    from OpenGL import GL

    context.renderer_name = GL.glGetString(GL.GL_RENDERER).decode(errors="replace")
    key = (context.renderer_name, context.display_kind)
    with _made_lock:
        first = key not in _made
        _made[key] = _made.get(key, 0) + 1
    if first:
        log.info("OpenGL renderer: %s, through %s", *key)
    return context


def opengl_renderers() -> dict[tuple[str, str], int]:
    """How many contexts this process made on each ``(GL_RENDERER, display)``: for ``/metrics``."""
    with _made_lock:
        return dict(_made)
