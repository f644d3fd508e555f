"""A visible window on the server's own display that shows a render area's frames as they are made.

For developing a service on a desktop: ``render_area.show_preview()`` opens one, and every frame
rendered for the area is shown in it too. It needs a display (the GLFW backend); on a headless
server there is nothing to show it on, and asking for one raises
:class:`~remoteviz.rendering.gl_platform.RenderingUnavailableError`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.gl_platform import Backend, RenderingUnavailableError, choose_backend

_VERTEX = """
#version 330 core
// One triangle that covers the window; texture rows run top to bottom, so v is flipped.
const vec2 CORNERS[3] = vec2[3](vec2(-1.0, -1.0), vec2(3.0, -1.0), vec2(-1.0, 3.0));
out vec2 v_uv;
void main() {
    vec2 corner = CORNERS[gl_VertexID];
    v_uv = vec2((corner.x + 1.0) * 0.5, 1.0 - (corner.y + 1.0) * 0.5);
    gl_Position = vec4(corner, 0.0, 1.0);
}
"""

_FRAGMENT = """
#version 330 core
in vec2 v_uv;
uniform sampler2D u_picture;
out vec4 frag_color;
void main() { frag_color = vec4(texture(u_picture, v_uv).rgb, 1.0); }
"""


class PreviewWindow:
    """A window that shows pictures, resized to each picture's size.

    Use it on the thread that renders (the service's dispatch thread). :meth:`show` returns False
    once the user has closed the window.
    """

    def __init__(self, title: str) -> None:
        if choose_backend() is not Backend.GLFW:
            raise RenderingUnavailableError("a preview window needs a display (DISPLAY is not set)")
        import glfw
        from OpenGL import GL

        from remoteviz.rendering.context import GLFWContext
        from remoteviz.rendering.scene_manager import _shared_renderer
        from remoteviz.rendering.shaders import ShaderProgram

        context = _shared_renderer().context
        assert isinstance(context, GLFWContext)
        self._glfw, self._gl = glfw, GL
        glfw.window_hint(glfw.VISIBLE, glfw.TRUE)
        # Shares the renderer's objects; its own context, since a context draws to one window.
        self._window = glfw.create_window(320, 240, title, None, context.window)
        glfw.window_hint(glfw.VISIBLE, glfw.FALSE)
        if not self._window:
            raise RenderingUnavailableError("GLFW could not open a preview window")
        glfw.make_context_current(self._window)
        try:
            self._program = ShaderProgram(_VERTEX, _FRAGMENT)
            self._vao = GL.glGenVertexArrays(1)  # core profile draws need a bound VAO
            self._texture = GL.glGenTextures(1)
            GL.glBindTexture(GL.GL_TEXTURE_2D, self._texture)
            for parameter in (GL.GL_TEXTURE_MIN_FILTER, GL.GL_TEXTURE_MAG_FILTER):
                GL.glTexParameteri(GL.GL_TEXTURE_2D, parameter, GL.GL_LINEAR)
        finally:
            glfw.make_context_current(None)  # type: ignore[arg-type]  # None unbinds
        self._size = (0, 0)

    @property
    def is_open(self) -> bool:
        """False once the window was closed (by the user or :meth:`close`)."""
        return self._window is not None and not self._glfw.window_should_close(self._window)

    def show(self, picture: npt.NDArray[np.uint8]) -> bool:
        """Show an ``(H, W, 3|4)`` uint8 picture, rows top to bottom; False if the window is closed."""
        if not self.is_open:
            self.close()
            return False
        glfw, GL = self._glfw, self._gl
        height, width = picture.shape[:2]
        if (width, height) != self._size:
            glfw.set_window_size(self._window, width, height)
            self._size = (width, height)
        rgb = np.ascontiguousarray(picture[:, :, :3])
        glfw.make_context_current(self._window)
        try:
            GL.glBindTexture(GL.GL_TEXTURE_2D, self._texture)
            GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGB8, width, height, 0, GL.GL_RGB, GL.GL_UNSIGNED_BYTE, rgb)
            self._draw()
            glfw.swap_buffers(self._window)
        finally:
            glfw.make_context_current(None)
        glfw.poll_events()
        return True

    def _draw(self) -> None:
        """Draw the current picture into the back buffer; the window's context must be current."""
        GL = self._gl
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        GL.glViewport(0, 0, *self._glfw.get_framebuffer_size(self._window))
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._texture)
        self._program.use()
        self._program.set_int("u_picture", 0)
        GL.glBindVertexArray(self._vao)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        GL.glBindVertexArray(0)

    def snapshot(self) -> npt.NDArray[np.uint8]:
        """What the window shows now, ``(H, W, 3)`` rows top to bottom.

        Drawn again into the back buffer and read there: front buffers are not readable
        everywhere (not on Xvfb with llvmpipe).
        """
        glfw, GL = self._glfw, self._gl
        width, height = glfw.get_framebuffer_size(self._window)
        glfw.make_context_current(self._window)
        try:
            self._draw()
            GL.glReadBuffer(GL.GL_BACK)
            GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
            pixels = np.empty((height, width, 3), np.uint8)
            GL.glReadPixels(0, 0, width, height, GL.GL_RGB, GL.GL_UNSIGNED_BYTE, pixels)
        finally:
            glfw.make_context_current(None)
        return np.ascontiguousarray(pixels[::-1])

    def close(self) -> None:
        """Close the window. Idempotent."""
        if self._window is not None:
            self._glfw.destroy_window(self._window)
            self._window = None  # type: ignore[assignment]  # closed: no window any more
