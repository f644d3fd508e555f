/**
 * Text labels of client-side rendering (records of kind "label", `remoteviz/rendering/text.py`
 * `Text2D`): drawn as the service draws them, upright, at their pixel size and over everything
 * else. Each label's top-left corner is where the service puts it: the projection of its anchor
 * (under the record's `model`) moved by `offset` pixels (x right, y up) to the picture's
 * bottom-left corner, or `screen_position` pixels from the top-left; a clip plane that cuts the
 * anchor away, or an anchor behind the camera, hides it. Within its box (the service's picture
 * size, filled with the background colour) the text starts at the service's first baseline, line
 * after line at its line spacing, in the browser's own font: DejaVu Sans where the system has it
 * (as the service), else its sans-serif, so glyphs may differ a little but not the placement.
 *
 * The labels are drawn into a 2-D canvas the size of the view, which goes to the WebGL canvas as
 * one texture blended over the frame: one upload per frame, and none for a scene without labels.
 * @module label-layer
 */

import { multiply, transformPoint } from "./view-math.js";

const FONT_FAMILY = '"DejaVu Sans", sans-serif';

/** The vertex shader of the labels' pass: the view's quad. */
export const LABEL_VERTEX = `#version 300 es
const vec2 CORNERS[4] = vec2[4](vec2(-1.0, -1.0), vec2(1.0, -1.0), vec2(-1.0, 1.0), vec2(1.0, 1.0));
out vec2 v_uv;
void main() {
    vec2 corner = CORNERS[gl_VertexID];
    v_uv = vec2((corner.x + 1.0) / 2.0, (1.0 - corner.y) / 2.0);
    gl_Position = vec4(corner, 0.0, 1.0);
}`;

/** Its fragment shader: the labels' canvas, premultiplied. */
export const LABEL_FRAGMENT = `#version 300 es
precision highp float;
in vec2 v_uv;
uniform sampler2D u_image;
out vec4 frag_color;
void main() {
    frag_color = texture(u_image, v_uv);
}`;

/**
 * Where a label's picture goes: its top-left corner in pixels from the view's top-left, rounded
 * as the service rounds it, or null where the service hides it.
 * @param {object} record a label record
 * @param {ArrayLike<number>} view the camera's view matrix (column-major)
 * @param {ArrayLike<number>} projection its projection matrix (any near and far: they move no point across the screen)
 * @param {number} width the view's width in pixels
 * @param {number} height its height
 * @returns {[number, number]|null}
 */
export function labelCorner(record, view, projection, width, height) {
  if (record.screen_position) return [Math.round(record.screen_position[0]), Math.round(record.screen_position[1])];
  const anchor = transformPoint(record.model, record.position);
  for (const [a, b, c, d] of record.clip) if (a * anchor[0] + b * anchor[1] + c * anchor[2] + d < 0) return null;
  const m = multiply(projection, view);
  const clip = [0, 1, 2, 3].map((row) => m[row] * anchor[0] + m[4 + row] * anchor[1] + m[8 + row] * anchor[2] + m[12 + row]);
  if (clip[3] <= 0) return null;
  const x = (clip[0] / clip[3] + 1) / 2 * width;
  const y = (1 - clip[1] / clip[3]) / 2 * height;
  return [Math.round(x + record.offset[0]), Math.round(y - record.offset[1] - record.size[1])];
}

function cssColor([r, g, b], alpha = 1) {
  const byte = (v) => Math.round(Math.min(Math.max(v, 0), 1) * 255);
  return `rgba(${byte(r)}, ${byte(g)}, ${byte(b)}, ${alpha})`;
}

/** Draws label records over a WebGL2 frame. */
export class LabelLayer {
  /**
   * @param {WebGL2RenderingContext} gl
   * @param {{program: WebGLProgram, uniforms: Map<string, WebGLUniformLocation>}} shader
   *   {@link LABEL_VERTEX} and {@link LABEL_FRAGMENT} compiled
   */
  constructor(gl, shader) {
    this.gl = gl;
    this._shader = shader;
    this._canvas = null;
    this._context = null;
    this._texture = null;
  }

  /**
   * Draws the labels over what the WebGL canvas holds (a vertex array must be bound; it reads
   * none); the depth test and blending end disabled.
   * @param {object[]} records label records
   * @param {ArrayLike<number>} view
   * @param {ArrayLike<number>} projection
   * @param {number} width
   * @param {number} height
   * @returns {number} labels drawn
   */
  draw(records, view, projection, width, height) {
    if (!records.length) return 0;
    const context = this._context2d(width, height);
    context.clearRect(0, 0, width, height);
    let drawn = 0;
    for (const record of records) {
      const corner = labelCorner(record, view, projection, width, height);
      if (!corner) continue;
      drawn += 1;
      const [left, top] = corner;
      if (record.background) {
        context.fillStyle = cssColor(record.background, record.background_opacity);
        context.fillRect(left, top, record.size[0], record.size[1]);
      }
      context.font = `${record.font_size}px ${FONT_FAMILY}`;
      context.textBaseline = "alphabetic";
      context.textAlign = "left";
      context.fillStyle = cssColor(record.color);
      record.text.split("\n").forEach((line, number) => {
        context.fillText(line, left + record.text_origin[0], top + record.baseline + number * record.line_height);
      });
    }
    if (drawn) this._blend();
    return drawn;
  }

  /** Frees the GPU texture. */
  dispose() {
    if (this._texture) this.gl.deleteTexture(this._texture);
    this._texture = null;
  }

  _context2d(width, height) {
    if (!this._canvas) {
      this._canvas = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(width, height) : document.createElement("canvas");
    }
    if (this._canvas.width !== width || this._canvas.height !== height) Object.assign(this._canvas, { width, height });
    this._context ??= this._canvas.getContext("2d");
    return this._context;
  }

  // The 2-D canvas as one texture over the frame, premultiplied, without a depth test: on top.
  _blend() {
    const gl = this.gl;
    if (!this._texture) {
      this._texture = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, this._texture);
      for (const parameter of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, parameter, gl.NEAREST);
      for (const parameter of [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T]) gl.texParameteri(gl.TEXTURE_2D, parameter, gl.CLAMP_TO_EDGE);
    }
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this._texture);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, true);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, this._canvas);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.useProgram(this._shader.program);
    gl.uniform1i(this._shader.uniforms.get("u_image"), 0);
    gl.disable(gl.DEPTH_TEST);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.depthMask(false);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    gl.depthMask(true);
    gl.disable(gl.BLEND);
  }
}
