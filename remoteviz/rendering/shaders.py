"""GLSL 3.30 programs and a small program wrapper.

Lit surfaces (optionally textured), points, wide lines (a geometry shader turns each segment into
a screen-aligned quad: core profiles do not promise lines wider than one pixel), volume ray
casting, colour-mapped slices, shapes coloured by a scalar attribute through a colour map
(:data:`SCALAR_GLSL`), screen-space text, the gradient background and the pass that lays
the volumes over the scene. Every fragment shader that draws scene content discards what the clip
planes in force cut away (:data:`CLIP_GLSL`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from OpenGL import GL

from remoteviz.rendering.colormaps import TABLE_SIZE
from remoteviz.rendering.nodes import MAX_CLIP_PLANES

#: Lights per shape beyond this are ignored.
MAX_LIGHTS = 8

CLIP_GLSL = f"""
const int MAX_CLIP_PLANES = {MAX_CLIP_PLANES};
uniform int u_clip_count;
uniform vec4 u_clip_planes[MAX_CLIP_PLANES];  // in the coordinates the caller tests points in

bool clipped(vec3 p) {{
    for (int i = 0; i < u_clip_count; ++i)
        if (dot(u_clip_planes[i].xyz, p) + u_clip_planes[i].w < 0.0) return true;
    return false;
}}
"""

SCALAR_GLSL = f"""
const float COLORMAP_SIZE = {TABLE_SIZE}.0;
uniform bool u_scalar_mapped;      // colour by the scalar attribute rather than the colour
uniform sampler1D u_colormap;
uniform float u_scalar_low, u_scalar_high;  // the range; logarithms of it on a log scale
uniform bool u_scalar_log;
uniform vec3 u_nan_color;

vec4 scalar_color(float value) {{
    if (isnan(value) || (u_scalar_log && value <= 0.0)) return vec4(u_nan_color, 1.0);
    float v = u_scalar_log ? log(value) / log(10.0) : value;
    float t = clamp((v - u_scalar_low) / (u_scalar_high - u_scalar_low), 0.0, 1.0);
    // Position 0 at the first entry's centre and 1 at the last's.
    return vec4(texture(u_colormap, (t * (COLORMAP_SIZE - 1.0) + 0.5) / COLORMAP_SIZE).rgb, 1.0);
}}
"""

SURFACE_VERTEX = """
#version 330 core
layout(location = 0) in vec3 a_position;
layout(location = 1) in vec3 a_normal;
layout(location = 2) in vec4 a_color;  // a constant (the diffuse colour) unless the mesh has colours
layout(location = 3) in vec2 a_texcoord;
layout(location = 5) in float a_scalar;  // for the colour map, when the mesh has scalars

uniform mat4 u_model_view;
uniform mat4 u_projection;
uniform mat3 u_normal_matrix;

out vec3 v_position;
out vec3 v_normal;
out vec4 v_color;
out vec2 v_texcoord;
out float v_scalar;

void main() {
    vec4 position = u_model_view * vec4(a_position, 1.0);
    v_position = position.xyz;
    v_normal = u_normal_matrix * a_normal;
    v_color = a_color;
    v_texcoord = a_texcoord;
    v_scalar = a_scalar;
    gl_Position = u_projection * position;
}
"""

SURFACE_FRAGMENT = f"""
#version 330 core
const int MAX_LIGHTS = {MAX_LIGHTS};
{CLIP_GLSL}
{SCALAR_GLSL}
in vec3 v_position;
in vec3 v_normal;
in vec4 v_color;
in vec2 v_texcoord;
in float v_scalar;  // interpolated before mapping, so a ramp shows every colour between

uniform bool u_textured;
uniform sampler2D u_texture;
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
    if (clipped(v_position)) discard;
    // Two-sided lighting: meshes from files are often open or wound inconsistently.
    vec3 normal = normalize(v_normal);
    if (!gl_FrontFacing) normal = -normal;
    vec3 to_eye = u_orthographic ? vec3(0.0, 0.0, 1.0) : normalize(-v_position);
    vec4 own = u_scalar_mapped ? scalar_color(v_scalar) : v_color;
    vec4 surface = u_textured ? own * texture(u_texture, v_texcoord) : own;
    vec3 base = surface.rgb;
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
    frag_color = vec4(min(color, vec3(1.0)), surface.a * u_opacity);
}}
"""

POINT_VERTEX = """
#version 330 core
layout(location = 0) in vec3 a_position;
layout(location = 2) in vec4 a_color;
layout(location = 4) in float a_size;  // pixels across
layout(location = 5) in float a_scalar;

uniform mat4 u_model_view;
uniform mat4 u_projection;

out vec3 v_position;
out vec4 v_color;
flat out float v_size;
flat out float v_scalar;

void main() {
    vec4 position = u_model_view * vec4(a_position, 1.0);
    v_position = position.xyz;
    v_color = a_color;
    v_scalar = a_scalar;
    v_size = a_size;
    gl_PointSize = a_size;
    gl_Position = u_projection * position;
}
"""

POINT_FRAGMENT = f"""
#version 330 core
{CLIP_GLSL}
{SCALAR_GLSL}
in vec3 v_position;
in vec4 v_color;
flat in float v_size;
flat in float v_scalar;
out vec4 frag_color;

void main() {{
    if (clipped(v_position)) discard;
    // Round points from 3 pixels up; smaller ones stay whole squares, or they would vanish.
    vec2 offset = gl_PointCoord * 2.0 - 1.0;
    if (v_size >= 3.0 && dot(offset, offset) > 1.0) discard;
    frag_color = u_scalar_mapped ? scalar_color(v_scalar) : v_color;
}}
"""

LINE_VERTEX = """
#version 330 core
layout(location = 0) in vec3 a_position;
layout(location = 2) in vec4 a_color;
layout(location = 5) in float a_scalar;

uniform mat4 u_model_view;
uniform mat4 u_projection;

out vec3 g_position;
out vec4 g_color;
out float g_scalar;

void main() {
    vec4 position = u_model_view * vec4(a_position, 1.0);
    g_position = position.xyz;
    g_color = a_color;
    g_scalar = a_scalar;
    gl_Position = u_projection * position;
}
"""

LINE_GEOMETRY = """
#version 330 core
layout(lines) in;
layout(triangle_strip, max_vertices = 4) out;

uniform vec2 u_viewport;    // pixels
uniform float u_width;      // pixels
uniform float u_depth_bias; // NDC depth: lines on a surface win against it

in vec3 g_position[];
in vec4 g_color[];
in float g_scalar[];
out vec3 v_position;
out vec4 v_color;
out float v_scalar;

void main() {
    vec4 a = gl_in[0].gl_Position, b = gl_in[1].gl_Position;
    if (a.w <= 0.0 || b.w <= 0.0) return;  // behind the camera (the near plane fits the scene)
    vec2 screen_a = a.xy / a.w * u_viewport, screen_b = b.xy / b.w * u_viewport;
    vec2 along = screen_b - screen_a;
    along = length(along) > 1e-6 ? normalize(along) : vec2(1.0, 0.0);
    // Half the width to each side, and half the width past each end so joints close.
    vec2 side = vec2(-along.y, along.x) * u_width / u_viewport;
    vec2 ahead = along * u_width / u_viewport;
    vec4 ends[2] = vec4[2](a, b);
    for (int i = 0; i < 2; ++i) {
        vec4 p = ends[i];
        vec2 grow = (i == 0 ? -ahead : ahead) * p.w;
        for (int j = 0; j < 2; ++j) {
            vec2 offset = (j == 0 ? side : -side) * p.w;
            gl_Position = vec4(p.xy + offset + grow, p.z - u_depth_bias * p.w, p.w);
            v_position = g_position[i];
            v_color = g_color[i];
            v_scalar = g_scalar[i];
            EmitVertex();
        }
    }
    EndPrimitive();
}
"""

LINE_FRAGMENT = f"""
#version 330 core
{CLIP_GLSL}
{SCALAR_GLSL}
in vec3 v_position;
in vec4 v_color;
in float v_scalar;
out vec4 frag_color;

void main() {{
    if (clipped(v_position)) discard;
    frag_color = u_scalar_mapped ? scalar_color(v_scalar) : v_color;
}}
"""

SLICE_FRAGMENT = f"""
#version 330 core
{CLIP_GLSL}
const float COLORMAP_SIZE = {TABLE_SIZE}.0;
in vec3 v_position;
in vec2 v_texcoord;
uniform sampler2D u_values;    // one float per texel, in data units; NaN outside the data
uniform sampler1D u_colormap;
uniform float u_low;           // data value shown with the colour map's first colour
uniform float u_high;          // ... and with its last (their logarithms on a log scale)
uniform bool u_log;
uniform vec3 u_nan_color;      // non-positive values on a log scale
out vec4 frag_color;

void main() {{
    if (clipped(v_position)) discard;
    float value = texture(u_values, v_texcoord).r;
    if (isnan(value)) discard;
    if (u_log && value <= 0.0) {{ frag_color = vec4(u_nan_color, 1.0); return; }}
    if (u_log) value = log(value) / log(10.0);
    float t = clamp((value - u_low) / max(u_high - u_low, 1e-30), 0.0, 1.0);
    // Position 0 at the first entry's centre and 1 at the last's, as the table says.
    frag_color = vec4(texture(u_colormap, (t * (COLORMAP_SIZE - 1.0) + 0.5) / COLORMAP_SIZE).rgb, 1.0);
}}
"""

VOLUME_VERTEX = """
#version 330 core
layout(location = 0) in vec3 a_position;  // a corner of the unit cube
uniform mat4 u_model_view;
uniform mat4 u_projection;
uniform vec3 u_brick_min, u_brick_max;    // the brick's box, volume coordinates
out vec3 v_local;

void main() {
    v_local = mix(u_brick_min, u_brick_max, a_position);
    gl_Position = u_projection * u_model_view * vec4(v_local, 1.0);
}
"""

# Drawn on the brick's back faces, so that a camera inside the volume still sees it.
VOLUME_FRAGMENT = f"""
#version 330 core
{CLIP_GLSL}
const int MODE_COMPOSITE = 0, MODE_MIP = 1, MODE_ISOSURFACE = 2;
const int MAX_STEPS = 8192;

in vec3 v_local;
uniform mat4 u_view_to_local;
uniform mat3 u_local_to_view_normal;
uniform bool u_orthographic;
uniform vec3 u_brick_min, u_brick_max;     // this brick's box, volume coordinates
uniform vec3 u_volume_min, u_volume_max;   // the whole volume's box: samples share one grid
uniform vec3 u_tex_origin, u_tex_scale;    // texture coordinate = (local - origin) * scale
uniform vec3 u_texel;                      // one texel in texture coordinates
uniform sampler3D u_data;
uniform sampler1D u_transfer;
uniform float u_value_scale, u_value_offset;  // transfer coordinate = sample * scale + offset
uniform float u_step;                      // between samples, volume units
uniform float u_opacity_exponent;          // step over the reference step (one voxel)
uniform int u_mode;
uniform float u_iso;                       // isosurface, in transfer coordinates
uniform sampler2D u_depth;                 // the opaque scene's depth: rays stop there
uniform mat4 u_inverse_projection;
uniform vec2 u_viewport;
out vec4 frag_color;

float value_at(vec3 local) {{
    return texture(u_data, (local - u_tex_origin) * u_tex_scale).r * u_value_scale + u_value_offset;
}}

vec2 box_span(vec3 origin, vec3 direction, vec3 lo, vec3 hi) {{
    vec3 inverse = 1.0 / direction;
    vec3 t1 = (lo - origin) * inverse, t2 = (hi - origin) * inverse;
    vec3 near = min(t1, t2), far = max(t1, t2);
    return vec2(max(max(near.x, near.y), near.z), min(min(far.x, far.y), far.z));
}}

void main() {{
    vec3 origin, direction;
    if (u_orthographic) {{
        direction = normalize(mat3(u_view_to_local) * vec3(0.0, 0.0, -1.0));
        origin = v_local - direction * 1e4 * length(u_volume_max - u_volume_min);
    }} else {{
        origin = (u_view_to_local * vec4(0.0, 0.0, 0.0, 1.0)).xyz;
        direction = normalize(v_local - origin);
    }}
    vec2 span = box_span(origin, direction, u_brick_min, u_brick_max);
    vec2 whole = box_span(origin, direction, u_volume_min, u_volume_max);
    if (!u_orthographic) {{ span.x = max(span.x, 0.0); whole.x = max(whole.x, 0.0); }}
    // Stop at the opaque surfaces drawn before: a mesh or a slice inside the volume hides what
    // is behind it.
    float depth = texelFetch(u_depth, ivec2(gl_FragCoord.xy), 0).r;
    if (depth < 1.0) {{
        vec4 ndc = vec4(gl_FragCoord.xy / u_viewport * 2.0 - 1.0, depth * 2.0 - 1.0, 1.0);
        vec4 surface = u_inverse_projection * ndc;
        vec3 hit = (u_view_to_local * vec4(surface.xyz / surface.w, 1.0)).xyz;
        span.y = min(span.y, dot(hit - origin, direction));
    }}
    // Clip planes (here in volume coordinates) shorten the ray.
    for (int i = 0; i < u_clip_count; ++i) {{
        float toward = dot(u_clip_planes[i].xyz, direction);
        float at_origin = dot(u_clip_planes[i].xyz, origin) + u_clip_planes[i].w;
        if (abs(toward) < 1e-12) {{ if (at_origin < 0.0) discard; continue; }}
        float t = -at_origin / toward;
        if (toward > 0.0) span.x = max(span.x, t); else span.y = min(span.y, t);
    }}
    if (span.x >= span.y) discard;
    // A per-pixel offset of the sample grid turns wood-grain banding into fine noise.
    float jitter = fract(sin(dot(gl_FragCoord.xy, vec2(12.9898, 78.233))) * 43758.5453);
    // Sample numbers on the whole volume's grid: neighbouring bricks, computing the same
    // number for their shared face, neither repeat nor skip a sample there.
    float first = ceil((span.x - whole.x) / u_step - jitter);
    float end = ceil((span.y - whole.x) / u_step - jitter);
    float t = whole.x + (first + jitter) * u_step;
    int steps = min(int(end - first), MAX_STEPS);
    vec4 sum = vec4(0.0);
    float previous_t = t, previous_value = -1.0;
    for (int i = 0; i < steps; ++i, t += u_step) {{
        float value = value_at(origin + t * direction);
        if (u_mode == MODE_MIP) {{
            sum.r = max(sum.r, value);
            sum.a = 1.0;  // marks that the ray met the volume
        }} else if (u_mode == MODE_ISOSURFACE) {{
            if (value >= u_iso) {{
                // Bisect between the last sample below the surface and this one.
                float lo = i == 0 ? t : previous_t, hi = t;
                for (int k = 0; k < 6; ++k) {{
                    float mid = 0.5 * (lo + hi);
                    if (value_at(origin + mid * direction) >= u_iso) hi = mid; else lo = mid;
                }}
                vec3 p = (origin + hi * direction - u_tex_origin) * u_tex_scale;
                vec3 gradient = vec3(
                    texture(u_data, p + vec3(u_texel.x, 0, 0)).r - texture(u_data, p - vec3(u_texel.x, 0, 0)).r,
                    texture(u_data, p + vec3(0, u_texel.y, 0)).r - texture(u_data, p - vec3(0, u_texel.y, 0)).r,
                    texture(u_data, p + vec3(0, 0, u_texel.z)).r - texture(u_data, p - vec3(0, 0, u_texel.z)).r);
                // Texture space to volume space: divide by the texel size there.
                vec3 normal = length(gradient) > 0.0 ? -normalize(gradient * u_tex_scale) : -direction;
                vec3 view_normal = normalize(u_local_to_view_normal * normal);
                float lambert = abs(view_normal.z);  // the headlight looks down -z
                vec3 color = texture(u_transfer, clamp(u_iso, 0.0, 1.0)).rgb;
                sum = vec4(color * (0.25 + 0.75 * lambert), 1.0);
                break;
            }}
            previous_t = t;
        }} else {{
            vec4 color = texture(u_transfer, clamp(value, 0.0, 1.0));
            if (color.a <= 0.0) continue;  // empty space: skip the opacity correction
            float alpha = 1.0 - pow(1.0 - min(color.a, 0.9999), u_opacity_exponent);
            sum.rgb += (1.0 - sum.a) * alpha * color.rgb;
            sum.a += (1.0 - sum.a) * alpha;
            if (sum.a > 0.995) break;  // early ray termination: nothing behind shows
        }}
    }}
    if (u_mode == MODE_MIP) {{
        vec4 color = texture(u_transfer, clamp(sum.r, 0.0, 1.0));
        sum = vec4(color.rgb * color.a, color.a);
    }}
    frag_color = sum;  // premultiplied by alpha
}}
"""

OVERLAY_VERTEX = """
#version 330 core
// A screen-aligned rectangle from the vertex index: corners 0..3 as a triangle strip.
uniform vec2 u_corner;     // bottom-left, in pixels from the bottom-left of the viewport
uniform vec2 u_size;       // pixels
uniform vec2 u_viewport;   // pixels
out vec2 v_texcoord;

void main() {
    vec2 unit = vec2(gl_VertexID & 1, gl_VertexID >> 1);
    v_texcoord = unit;  // the texture holds the label's bottom row first
    vec2 pixel = u_corner + unit * u_size;
    gl_Position = vec4(pixel / u_viewport * 2.0 - 1.0, 0.0, 1.0);
}
"""

OVERLAY_FRAGMENT = """
#version 330 core
in vec2 v_texcoord;
uniform sampler2D u_image;  // premultiplied RGBA
out vec4 frag_color;

void main() {
    frag_color = texture(u_image, v_texcoord);
}
"""

COMPOSITE_FRAGMENT = """
#version 330 core
uniform sampler2D u_layer;  // premultiplied RGBA, at the framebuffer's size or smaller
uniform vec2 u_size;        // the framebuffer's size in pixels
out vec4 frag_color;

void main() {
    frag_color = texture(u_layer, gl_FragCoord.xy / u_size);
}
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
    """A linked vertex (+ geometry) + fragment program with typed uniform setters."""

    def __init__(self, vertex_source: str, fragment_source: str, geometry_source: str | None = None) -> None:
        shaders = [
            _compile(GL.GL_VERTEX_SHADER, vertex_source),
            _compile(GL.GL_FRAGMENT_SHADER, fragment_source),
        ]
        if geometry_source is not None:
            shaders.append(_compile(GL.GL_GEOMETRY_SHADER, geometry_source))
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

    def set_vec2(self, name: str, value: npt.ArrayLike) -> None:
        """Set a vec2 uniform."""
        data = np.ascontiguousarray(value, dtype=np.float32).reshape(-1, 2)
        GL.glUniform2fv(self._location(name), len(data), data)

    def set_vec4(self, name: str, value: npt.ArrayLike) -> None:
        """Set a vec4 uniform, or a vec4 array from an ``(N, 4)`` array."""
        data = np.ascontiguousarray(value, dtype=np.float32).reshape(-1, 4)
        if len(data):
            GL.glUniform4fv(self._location(name), len(data), data)

    def set_clip_planes(self, planes: npt.ArrayLike) -> None:
        """Set :data:`CLIP_GLSL`'s planes from an ``(N, 4)`` array (N may be 0)."""
        data = np.asarray(planes, dtype=np.float32).reshape(-1, 4)
        self.set_int("u_clip_count", len(data))
        self.set_vec4("u_clip_planes", data)

    def set_vec3(self, name: str, value: npt.ArrayLike) -> None:
        """Set a vec3 uniform, or a vec3 array from an ``(N, 3)`` array."""
        data = np.ascontiguousarray(value, dtype=np.float32).reshape(-1, 3)
        GL.glUniform3fv(self._location(name), len(data), data)

    def set_matrix(self, name: str, matrix: npt.ArrayLike) -> None:
        """Set a mat3 or mat4 uniform from a row-major numpy matrix."""
        data = np.ascontiguousarray(matrix, dtype=np.float32)
        setter = GL.glUniformMatrix4fv if data.shape == (4, 4) else GL.glUniformMatrix3fv
        setter(self._location(name), 1, GL.GL_TRUE, data)

    def delete(self) -> None:
        """Free the program; the context must be current."""
        GL.glDeleteProgram(self.handle)

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
