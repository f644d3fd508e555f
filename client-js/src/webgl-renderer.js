/**
 * The WebGL2 renderer of client-side rendering: draws a {@link SceneStore}'s records with the
 * service's own shaders (`remoteviz/rendering/shaders.py`, GLSL 3.30 ported to GLSL ES 3.00): the
 * same lighting, the same clip-plane rule (a fragment with `dot(plane.xyz, p) + plane.w < 0` in
 * view space is discarded), the same camera and near/far fitting. Loaded only by a page that draws
 * client-side (`render-area.js` imports it dynamically).
 *
 * A textured mesh (a record with `texcoords` and `texture`) samples its image as the service
 * does: the colour times the texel, then lit; the same filter, repeated outside 0..1, no mipmaps.
 *
 * Not ported yet: lines wider than one pixel (the service's geometry shader; WebGL draws 1-pixel
 * lines), back-face culling (invisible for closed shapes, which are lit on both sides anyway).
 * @module webgl-renderer
 */

import { bufferNames } from "./scene-store.js";
import { LABEL_FRAGMENT, LABEL_VERTEX, LabelLayer } from "./label-layer.js";
import { clippingRange, multiply, normalMatrix, planeInView, projectionMatrix, transformPoint, viewMatrix } from "./view-math.js";

const MAX_CLIP_PLANES = 6;
const MAX_LIGHTS = 8;
const POSITION = 0;
const NORMAL = 1;
const COLOR = 2;
const TEXCOORD = 3;
const SIZE = 4;

const CLIP_GLSL = `
const int MAX_CLIP_PLANES = ${MAX_CLIP_PLANES};
uniform int u_clip_count;
uniform vec4 u_clip_planes[MAX_CLIP_PLANES];
bool clipped(vec3 p) {
    for (int i = 0; i < MAX_CLIP_PLANES; ++i) {
        if (i >= u_clip_count) break;
        if (dot(u_clip_planes[i].xyz, p) + u_clip_planes[i].w < 0.0) return true;
    }
    return false;
}`;

// Positions arrive as 16-bit integers over their box: p = offset + q * scale.
const SURFACE_VERTEX = `#version 300 es
layout(location = 0) in vec3 a_position;
layout(location = 1) in vec3 a_normal;
layout(location = 2) in vec4 a_color;
layout(location = 3) in vec2 a_texcoord;
uniform vec3 u_offset;
uniform vec3 u_scale;
uniform mat4 u_model_view;
uniform mat4 u_projection;
uniform mat3 u_normal_matrix;
out vec3 v_position;
out vec3 v_normal;
out vec4 v_color;
out vec2 v_texcoord;
void main() {
    vec4 position = u_model_view * vec4(u_offset + a_position * u_scale, 1.0);
    v_position = position.xyz;
    v_normal = u_normal_matrix * a_normal;
    v_color = a_color;
    v_texcoord = a_texcoord;
    gl_Position = u_projection * position;
}`;

const SURFACE_FRAGMENT = `#version 300 es
precision highp float;
precision highp int;
const int MAX_LIGHTS = ${MAX_LIGHTS};
${CLIP_GLSL}
in vec3 v_position;
in vec3 v_normal;
in vec4 v_color;
in vec2 v_texcoord;
uniform bool u_textured;
uniform sampler2D u_texture;
uniform vec3 u_ambient;
uniform vec3 u_specular;
uniform vec3 u_emissive;
uniform float u_shininess;
uniform float u_opacity;
uniform bool u_orthographic;
uniform int u_light_count;
uniform vec3 u_light_directions[MAX_LIGHTS];
uniform vec3 u_light_colors[MAX_LIGHTS];
out vec4 frag_color;
void main() {
    if (clipped(v_position)) discard;
    vec3 normal = normalize(v_normal);
    if (!gl_FrontFacing) normal = -normal;
    vec3 to_eye = u_orthographic ? vec3(0.0, 0.0, 1.0) : normalize(-v_position);
    vec4 surface = u_textured ? v_color * texture(u_texture, v_texcoord) : v_color;
    vec3 base = surface.rgb;
    vec3 color = u_emissive + u_ambient * base;
    for (int i = 0; i < MAX_LIGHTS; ++i) {
        if (i >= u_light_count) break;
        vec3 to_light = -u_light_directions[i];
        float lambert = max(dot(normal, to_light), 0.0);
        color += u_light_colors[i] * base * lambert;
        if (lambert > 0.0) {
            vec3 halfway = normalize(to_light + to_eye);
            float highlight = pow(max(dot(normal, halfway), 0.0), max(u_shininess * 128.0, 1.0));
            color += u_light_colors[i] * u_specular * highlight;
        }
    }
    frag_color = vec4(min(color, vec3(1.0)), surface.a * u_opacity);
}`;

const POINT_VERTEX = `#version 300 es
layout(location = 0) in vec3 a_position;
layout(location = 2) in vec4 a_color;
layout(location = 4) in float a_size;
uniform vec3 u_offset;
uniform vec3 u_scale;
uniform mat4 u_model_view;
uniform mat4 u_projection;
out vec3 v_position;
out vec4 v_color;
flat out float v_size;
void main() {
    vec4 position = u_model_view * vec4(u_offset + a_position * u_scale, 1.0);
    v_position = position.xyz;
    v_color = a_color;
    v_size = a_size;
    gl_PointSize = a_size;
    gl_Position = u_projection * position;
}`;

const POINT_FRAGMENT = `#version 300 es
precision highp float;
precision highp int;
${CLIP_GLSL}
in vec3 v_position;
in vec4 v_color;
flat in float v_size;
out vec4 frag_color;
void main() {
    if (clipped(v_position)) discard;
    vec2 offset = gl_PointCoord * 2.0 - 1.0;
    if (v_size >= 3.0 && dot(offset, offset) > 1.0) discard;
    frag_color = v_color;
}`;

const LINE_VERTEX = `#version 300 es
layout(location = 0) in vec3 a_position;
layout(location = 2) in vec4 a_color;
uniform vec3 u_offset;
uniform vec3 u_scale;
uniform mat4 u_model_view;
uniform mat4 u_projection;
out vec3 v_position;
out vec4 v_color;
void main() {
    vec4 position = u_model_view * vec4(u_offset + a_position * u_scale, 1.0);
    v_position = position.xyz;
    v_color = a_color;
    gl_Position = u_projection * position;
}`;

const LINE_FRAGMENT = `#version 300 es
precision highp float;
precision highp int;
${CLIP_GLSL}
in vec3 v_position;
in vec4 v_color;
out vec4 frag_color;
void main() {
    if (clipped(v_position)) discard;
    frag_color = v_color;
}`;

const BACKGROUND_VERTEX = `#version 300 es
const vec2 CORNERS[3] = vec2[3](vec2(-1.0, -1.0), vec2(3.0, -1.0), vec2(-1.0, 3.0));
out float v_height;
void main() {
    vec2 corner = CORNERS[gl_VertexID];
    v_height = (corner.y + 1.0) / 2.0;
    gl_Position = vec4(corner, 0.0, 1.0);
}`;

const BACKGROUND_FRAGMENT = `#version 300 es
precision highp float;
in float v_height;
uniform vec3 u_top;
uniform vec3 u_bottom;
out vec4 frag_color;
void main() {
    frag_color = vec4(mix(u_bottom, u_top, v_height), 1.0);
}`;

/** Raised when WebGL2 cannot be had or a program does not compile: the page falls back to server frames. */
export class WebGLUnavailableError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "WebGLUnavailableError";
  }
}

function compile(gl, vertexSource, fragmentSource) {
  const program = gl.createProgram();
  for (const [type, source] of [[gl.VERTEX_SHADER, vertexSource], [gl.FRAGMENT_SHADER, fragmentSource]]) {
    const shader = gl.createShader(type);
    gl.shaderSource(shader, source);
    gl.compileShader(shader);
    if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new WebGLUnavailableError(`shader: ${gl.getShaderInfoLog(shader)}`);
    gl.attachShader(program, shader);
  }
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new WebGLUnavailableError(`program: ${gl.getProgramInfoLog(program)}`);
  const uniforms = new Map();
  const count = gl.getProgramParameter(program, gl.ACTIVE_UNIFORMS);
  for (let i = 0; i < count; i += 1) {
    const name = gl.getActiveUniform(program, i).name.replace(/\[0\]$/, "");
    uniforms.set(name, gl.getUniformLocation(program, name));
  }
  return { program, uniforms };
}

/** Draws a scene store into a canvas with WebGL2. */
export class WebGLRenderer {
  /**
   * @param {HTMLCanvasElement} canvas
   * @throws {WebGLUnavailableError} without WebGL2
   */
  constructor(canvas) {
    const gl = canvas.getContext("webgl2", { antialias: true, alpha: false, preserveDrawingBuffer: true });
    if (!gl) throw new WebGLUnavailableError("this browser gives no WebGL2 context");
    this.gl = gl;
    this.canvas = canvas;
    this._surface = compile(gl, SURFACE_VERTEX, SURFACE_FRAGMENT);
    this._points = compile(gl, POINT_VERTEX, POINT_FRAGMENT);
    this._lines = compile(gl, LINE_VERTEX, LINE_FRAGMENT);
    this._background = compile(gl, BACKGROUND_VERTEX, BACKGROUND_FRAGMENT);
    this._labels = new LabelLayer(gl, compile(gl, LABEL_VERTEX, LABEL_FRAGMENT));
    this._emptyVao = gl.createVertexArray();
    /** @type {Map<string, {buffer: WebGLBuffer, target: number}>} GPU copies of the store's buffers */
    this._gpu = new Map();
    /** @type {Map<string, {key: string, vao: WebGLVertexArrayObject}>} by record id */
    this._vaos = new Map();
    /** @type {Map<string, {name: string, texture: WebGLTexture}>} textures by image buffer and filter */
    this._textures = new Map();
    this._maxTextureSize = gl.getParameter(gl.MAX_TEXTURE_SIZE);
  }

  /**
   * Draws the store's records that can be drawn (in full detail, or as their coarse copy), at the canvas's size.
   * @param {import("./scene-store.js").SceneStore} store
   * @param {object} [camera] the camera to draw with: the page's, as its navigation moves it
   * @returns {number} records drawn
   */
  draw(store, camera = store.camera) {
    const gl = this.gl;
    const { width, height } = this.canvas;
    gl.viewport(0, 0, width, height);
    this._forgetStale(store);
    gl.depthMask(true);
    const background = store.background;
    if (background) {
      gl.disable(gl.DEPTH_TEST);
      gl.disable(gl.BLEND);
      gl.useProgram(this._background.program);
      gl.uniform3fv(this._background.uniforms.get("u_top"), background.top);
      gl.uniform3fv(this._background.uniforms.get("u_bottom"), background.bottom);
      gl.bindVertexArray(this._emptyVao);
      gl.drawArrays(gl.TRIANGLES, 0, 3);
      gl.clear(gl.DEPTH_BUFFER_BIT);
    } else {
      gl.clearColor(0, 0, 0, 1);
      gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    }
    const records = store.drawn();
    if (!camera || !records.length) return 0;
    const view = viewMatrix(camera);
    const [near, far] = clippingRange(camera, view, records.filter((record) => record.box).map((record) => record.box));
    const projection = projectionMatrix(camera, width / height, near, far);
    gl.enable(gl.DEPTH_TEST);
    gl.depthFunc(gl.LESS);
    gl.disable(gl.BLEND);
    const meshes = records.filter((r) => r.kind === "mesh");
    const opaque = meshes.filter((r) => r.material.transparency === 0);
    this._drawSurfaces(store, opaque, view, projection, camera.orthographic);
    this._drawPointsOrLines(store, records.filter((r) => r.kind === "points"), this._points, view, projection);
    this._drawPointsOrLines(store, records.filter((r) => r.kind === "lines"), this._lines, view, projection);
    // Transparent surfaces last, farthest first, blended over what is behind them.
    const depth = (r) => transformPoint(view, r.box[0].map((low, k) => (low + r.box[1][k]) / 2))[2];
    const transparent = meshes.filter((r) => r.material.transparency > 0).sort((a, b) => depth(a) - depth(b));
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
    gl.depthMask(false);
    this._drawSurfaces(store, transparent, view, projection, camera.orthographic);
    gl.depthMask(true);
    gl.disable(gl.BLEND);
    // Text labels last, over everything (label-layer.js).
    gl.bindVertexArray(this._emptyVao);
    this._labels.draw(records.filter((r) => r.kind === "label"), view, projection, width, height);
    gl.bindVertexArray(null);
    return records.length;
  }

  /** Frees every GPU object. */
  dispose() {
    const gl = this.gl;
    this._labels.dispose();
    for (const { buffer } of this._gpu.values()) gl.deleteBuffer(buffer);
    for (const { vao } of this._vaos.values()) gl.deleteVertexArray(vao);
    for (const { texture } of this._textures.values()) gl.deleteTexture(texture);
    this._textures.clear();
    this._gpu.clear();
    this._vaos.clear();
  }

  _drawSurfaces(store, records, view, projection, orthographic) {
    if (!records.length) return;
    const gl = this.gl;
    const { program, uniforms } = this._surface;
    gl.useProgram(program);
    gl.uniformMatrix4fv(uniforms.get("u_projection"), false, projection);
    gl.uniform1i(uniforms.get("u_orthographic"), orthographic ? 1 : 0);
    for (const record of records) {
      const modelView = multiply(view, record.model);
      this._common(uniforms, record, modelView, view);
      gl.uniformMatrix3fv(uniforms.get("u_normal_matrix"), false, normalMatrix(modelView));
      const material = record.material;
      gl.uniform3fv(uniforms.get("u_ambient"), material.ambient);
      gl.uniform3fv(uniforms.get("u_specular"), material.specular);
      gl.uniform3fv(uniforms.get("u_emissive"), material.emissive);
      gl.uniform1f(uniforms.get("u_shininess"), material.shininess);
      gl.uniform1f(uniforms.get("u_opacity"), 1 - material.transparency);
      const lights = record.lights.slice(0, MAX_LIGHTS);
      gl.uniform1i(uniforms.get("u_light_count"), lights.length);
      if (lights.length) {
        const directions = lights.flatMap((light) => {
          if (light.camera) return [0, 0, -1];
          const d = [0, 1, 2].map((row) => view[row] * light.direction[0] + view[4 + row] * light.direction[1] + view[8 + row] * light.direction[2]);
          const length = Math.hypot(...d) || 1;
          return d.map((v) => v / length);
        });
        gl.uniform3fv(uniforms.get("u_light_directions"), directions);
        gl.uniform3fv(uniforms.get("u_light_colors"), lights.flatMap((light) => light.color));
      }
      this._bind(store, record);
      gl.uniform1i(uniforms.get("u_textured"), record.texture && record.texcoords ? 1 : 0);
      if (record.texture && record.texcoords) {
        gl.activeTexture(gl.TEXTURE0);
        gl.bindTexture(gl.TEXTURE_2D, this._texture(store, record.texture));
      }
      gl.drawElements(gl.TRIANGLES, record.count, record.index_type === "u16" ? gl.UNSIGNED_SHORT : gl.UNSIGNED_INT, 0);
    }
  }

  _drawPointsOrLines(store, records, shader, view, projection) {
    if (!records.length) return;
    const gl = this.gl;
    gl.useProgram(shader.program);
    gl.uniformMatrix4fv(shader.uniforms.get("u_projection"), false, projection);
    for (const record of records) {
      this._common(shader.uniforms, record, multiply(view, record.model), view);
      this._bind(store, record);
      if (record.kind === "points") gl.drawArrays(gl.POINTS, 0, record.vertices);
      else gl.drawElements(gl.LINES, record.count, record.index_type === "u16" ? gl.UNSIGNED_SHORT : gl.UNSIGNED_INT, 0);
    }
  }

  // The uniforms every kind shares: the positions' quantization, the matrices, the clip planes.
  _common(uniforms, record, modelView, view) {
    const gl = this.gl;
    gl.uniform3fv(uniforms.get("u_offset"), record.quantization.offset);
    gl.uniform3fv(uniforms.get("u_scale"), record.quantization.scale);
    gl.uniformMatrix4fv(uniforms.get("u_model_view"), false, modelView);
    const planes = record.clip.slice(0, MAX_CLIP_PLANES).map((plane) => planeInView(plane, view));
    gl.uniform1i(uniforms.get("u_clip_count"), planes.length);
    if (planes.length) gl.uniform4fv(uniforms.get("u_clip_planes"), planes.flat());
  }

  // The record's vertex array, made once per set of buffers.
  _bind(store, record) {
    const gl = this.gl;
    const key = bufferNames(record).join(",");
    const known = this._vaos.get(record.id);
    if (known?.key === key) {
      gl.bindVertexArray(known.vao);
    } else {
      if (known) gl.deleteVertexArray(known.vao);
      const vao = gl.createVertexArray();
      gl.bindVertexArray(vao);
      this._attribute(store, record.positions, POSITION, 3, gl.UNSIGNED_SHORT, false);
      if (record.normals) this._attribute(store, record.normals, NORMAL, 3, gl.BYTE, true);
      if (record.colors) this._attribute(store, record.colors, COLOR, 4, gl.UNSIGNED_BYTE, true);
      if (record.sizes) this._attribute(store, record.sizes, SIZE, 1, gl.FLOAT, false);
      if (record.texcoords) this._attribute(store, record.texcoords, TEXCOORD, 2, gl.FLOAT, false);
      if (record.indices) gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this._buffer(store, record.indices, gl.ELEMENT_ARRAY_BUFFER));
      this._vaos.set(record.id, { key, vao });
    }
    // Without a colour array the attribute reads this constant: the diffuse colour (a vertex
    // array does not hold it, so it is set for every draw).
    if (!record.colors) gl.vertexAttrib4f(COLOR, ...record.material.diffuse, 1);
  }

  _attribute(store, name, location, size, type, normalized) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this._buffer(store, name, gl.ARRAY_BUFFER));
    gl.enableVertexAttribArray(location);
    gl.vertexAttribPointer(location, size, type, normalized, 0, 0);
  }

  _buffer(store, name, target) {
    const gl = this.gl;
    let entry = this._gpu.get(name);
    if (!entry) {
      const buffer = gl.createBuffer();
      gl.bindBuffer(target, buffer);
      gl.bufferData(target, store.buffers.get(name), gl.STATIC_DRAW);
      entry = { buffer, target };
      this._gpu.set(name, entry);
    }
    return entry.buffer;
  }

  // A texture's GPU copy, made once per image and filter: RGBA bytes bottom row first, sampled as
  // the service samples it (the same filter both ways, no mipmaps, repeated outside 0..1).
  _texture(store, { image, width, height, filter }) {
    const gl = this.gl;
    const key = `${image}:${filter}`;
    let entry = this._textures.get(key);
    if (!entry) {
      // The service sends textures up to 4096 a side; a browser that takes less draws nothing of
      // it: throwing here puts the page back on the service's frames.
      if (Math.max(width, height) > this._maxTextureSize) {
        throw new WebGLUnavailableError(`a ${width}x${height} texture is over this browser's largest (${this._maxTextureSize})`);
      }
      const texture = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, texture);
      gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, width, height, 0, gl.RGBA, gl.UNSIGNED_BYTE, store.buffers.get(image));
      const sampling = filter === "nearest" ? gl.NEAREST : gl.LINEAR;
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, sampling);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, sampling);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.REPEAT);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.REPEAT);
      entry = { name: image, texture };
      this._textures.set(key, entry);
    }
    return entry.texture;
  }

  // GPU copies of buffers the store let go, and vertex arrays of records it removed.
  _forgetStale(store) {
    const gl = this.gl;
    for (const [name, { buffer }] of this._gpu) {
      if (!store.buffers.has(name)) {
        gl.deleteBuffer(buffer);
        this._gpu.delete(name);
      }
    }
    for (const [key, { name, texture }] of this._textures) {
      if (!store.buffers.has(name)) {
        gl.deleteTexture(texture);
        this._textures.delete(key);
      }
    }
    for (const [id, { vao }] of this._vaos) {
      if (!store.records.has(id)) {
        gl.deleteVertexArray(vao);
        this._vaos.delete(id);
      }
    }
  }
}
