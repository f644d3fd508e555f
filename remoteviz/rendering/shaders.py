"""GLSL 3.30 programs: lit surfaces and the gradient background, and a small program wrapper."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from OpenGL import GL

#: Lights per shape beyond this are ignored.
MAX_LIGHTS = 8

SURFACE_VERTEX = """
#version 330 core
layout(location = 0) in vec3 a_position;
layout(location = 1) in vec3 a_normal;
layout(location = 2) in vec4 a_color;  // a constant (the diffuse colour) unless the mesh has colours

uniform mat4 u_model_view;
uniform mat4 u_projection;
uniform mat3 u_normal_matrix;

out vec3 v_position;
out vec3 v_normal;
out vec4 v_color;

void main() {
    vec4 position = u_model_view * vec4(a_position, 1.0);
    v_position = position.xyz;
    v_normal = u_normal_matrix * a_normal;
    v_color = a_color;
    gl_Position = u_projection * position;
}
"""

SURFACE_FRAGMENT = f"""
#version 330 core
const int MAX_LIGHTS = {MAX_LIGHTS};

in vec3 v_position;
in vec3 v_normal;
in vec4 v_color;

uniform vec3 u_ambient;
uniform vec3 u_specular;
uniform vec3 u_emissive;
uniform float u_shininess;
uniform float u_opacity;
uniform bool u_orthographic;
uniform int u_light_count;
uniform vec3 u_light_directions[MAX_LIGHTS];  // view space, where the light travels to
uniform vec3 u_light_colors[MAX_LIGHTS];      // colour times intensity

out vec4 frag_color;

void main() {{
    // Two-sided lighting: meshes from files are often open or wound inconsistently.
    vec3 normal = normalize(v_normal);
    if (!gl_FrontFacing) normal = -normal;
    vec3 to_eye = u_orthographic ? vec3(0.0, 0.0, 1.0) : normalize(-v_position);
    vec3 base = v_color.rgb;
    vec3 color = u_emissive + u_ambient * base;
    for (int i = 0; i < u_light_count; ++i) {{
        vec3 to_light = -u_light_directions[i];
        float lambert = max(dot(normal, to_light), 0.0);
        color += u_light_colors[i] * base * lambert;
        if (lambert > 0.0) {{
            vec3 halfway = normalize(to_light + to_eye);
            float highlight = pow(max(dot(normal, halfway), 0.0), max(u_shininess * 128.0, 1.0));
            color += u_light_colors[i] * u_specular * highlight;
        }}
    }}
    frag_color = vec4(min(color, vec3(1.0)), v_color.a * u_opacity);
}}
"""

BACKGROUND_VERTEX = """
#version 330 core
// One triangle that covers the screen, made from the vertex index: no vertex buffer needed.
const vec2 CORNERS[3] = vec2[3](vec2(-1.0, -1.0), vec2(3.0, -1.0), vec2(-1.0, 3.0));
out float v_height;

void main() {
    vec2 corner = CORNERS[gl_VertexID];
    v_height = (corner.y + 1.0) / 2.0;
    gl_Position = vec4(corner, 0.0, 1.0);
}
"""

BACKGROUND_FRAGMENT = """
#version 330 core
in float v_height;
uniform vec3 u_top;
uniform vec3 u_bottom;
out vec4 frag_color;

void main() {
    frag_color = vec4(mix(u_bottom, u_top, v_height), 1.0);
}
"""


class ShaderError(RuntimeError):
    """A shader failed to compile or link; the message holds the driver's log."""


class ShaderProgram:
    """A linked vertex + fragment program with typed uniform setters."""

    def __init__(self, vertex_source: str, fragment_source: str) -> None:
        shaders = [
            _compile(GL.GL_VERTEX_SHADER, vertex_source),
            _compile(GL.GL_FRAGMENT_SHADER, fragment_source),
        ]
        self.handle = GL.glCreateProgram()
        for shader in shaders:
            GL.glAttachShader(self.handle, shader)
        GL.glLinkProgram(self.handle)
        for shader in shaders:
            GL.glDetachShader(self.handle, shader)
            GL.glDeleteShader(shader)
        if not GL.glGetProgramiv(self.handle, GL.GL_LINK_STATUS):
            log = GL.glGetProgramInfoLog(self.handle).decode(errors="replace")
            GL.glDeleteProgram(self.handle)
            raise ShaderError(f"program link failed: {log}")
        self._locations: dict[str, int] = {}

    def use(self) -> None:
        """Make this the current program."""
        GL.glUseProgram(self.handle)

    def set_float(self, name: str, value: float) -> None:
        """Set a float uniform."""
        GL.glUniform1f(self._location(name), value)

    def set_int(self, name: str, value: int) -> None:
        """Set an int or bool uniform."""
        GL.glUniform1i(self._location(name), value)

    def set_vec3(self, name: str, value: npt.ArrayLike) -> None:
        """Set a vec3 uniform, or a vec3 array from an ``(N, 3)`` array."""
        data = np.ascontiguousarray(value, dtype=np.float32).reshape(-1, 3)
        GL.glUniform3fv(self._location(name), len(data), data)

    def set_matrix(self, name: str, matrix: npt.ArrayLike) -> None:
        """Set a mat3 or mat4 uniform from a row-major numpy matrix."""
        data = np.ascontiguousarray(matrix, dtype=np.float32)
        setter = GL.glUniformMatrix4fv if data.shape == (4, 4) else GL.glUniformMatrix3fv
        setter(self._location(name), 1, GL.GL_TRUE, data)

    def _location(self, name: str) -> int:
        if name not in self._locations:
            self._locations[name] = GL.glGetUniformLocation(self.handle, name)
        return self._locations[name]


def _compile(kind: int, source: str) -> int:
    shader = GL.glCreateShader(kind)
    GL.glShaderSource(shader, source)
    GL.glCompileShader(shader)
    if not GL.glGetShaderiv(shader, GL.GL_COMPILE_STATUS):
        log = GL.glGetShaderInfoLog(shader).decode(errors="replace")
        GL.glDeleteShader(shader)
        raise ShaderError(f"shader compile failed: {log}")
    return int(shader)
