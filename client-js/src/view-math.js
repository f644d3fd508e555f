/**
 * The camera and matrix arithmetic of client-side rendering, the same as the service's
 * (`remoteviz/rendering/camera.py`, `math3d.py`): the view and projection matrices of a camera
 * record, and near and far planes fitted to the scene's boxes. Matrices are column-major arrays
 * of 16 numbers, as WebGL takes them. No DOM: Node tests it.
 * @module view-math
 */

/**
 * `a * b` of two column-major 4x4 matrices.
 * @param {ArrayLike<number>} a
 * @param {ArrayLike<number>} b
 * @returns {number[]}
 */
export function multiply(a, b) {
  const out = new Array(16).fill(0);
  for (let column = 0; column < 4; column += 1) {
    for (let row = 0; row < 4; row += 1) {
      let sum = 0;
      for (let k = 0; k < 4; k += 1) sum += a[k * 4 + row] * b[column * 4 + k];
      out[column * 4 + row] = sum;
    }
  }
  return out;
}

/**
 * The inverse of an affine column-major 4x4 matrix (rotation, scale, translation).
 * @param {ArrayLike<number>} m
 * @returns {number[]}
 */
export function invertAffine(m) {
  const [a, b, c, , d, e, f, , g, h, i] = m;
  const det = a * (e * i - f * h) - d * (b * i - c * h) + g * (b * f - c * e);
  const r = [
    (e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det,
    (f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det,
    (d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det,
  ];
  const [tx, ty, tz] = [m[12], m[13], m[14]];
  return [
    r[0], r[1], r[2], 0,
    r[3], r[4], r[5], 0,
    r[6], r[7], r[8], 0,
    -(r[0] * tx + r[3] * ty + r[6] * tz), -(r[1] * tx + r[4] * ty + r[7] * tz), -(r[2] * tx + r[5] * ty + r[8] * tz), 1,
  ];
}

/**
 * The rotation matrix of an `(x, y, z, w)` unit quaternion, column-major 4x4.
 * @param {number[]} q
 * @returns {number[]}
 */
export function rotationMatrix([x, y, z, w]) {
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w), 0,
    2 * (x * y - z * w), 1 - 2 * (x * x + z * z), 2 * (y * z + x * w), 0,
    2 * (x * z + y * w), 2 * (y * z - x * w), 1 - 2 * (x * x + y * y), 0,
    0, 0, 0, 1,
  ];
}

/**
 * Applies an affine matrix to a point.
 * @param {ArrayLike<number>} m
 * @param {number[]} p
 * @returns {number[]}
 */
export function transformPoint(m, [x, y, z]) {
  return [0, 1, 2].map((row) => m[row] * x + m[4 + row] * y + m[8 + row] * z + m[12 + row]);
}

/**
 * The view matrix of a camera record (world to camera coordinates).
 * @param {{position: number[], orientation: number[], model: number[]}} camera
 * @returns {number[]}
 */
export function viewMatrix(camera) {
  const placement = rotationMatrix(camera.orientation);
  placement[12] = camera.position[0];
  placement[13] = camera.position[1];
  placement[14] = camera.position[2];
  return invertAffine(multiply(camera.model, placement));
}

/**
 * Half the visible width and height: at distance 1 for perspective, absolute for orthographic;
 * the camera's angle or height applies to the viewport's smaller side.
 * @param {{height: number, orthographic: boolean}} camera
 * @param {number} aspect width / height
 * @returns {[number, number]}
 */
export function halfExtents(camera, aspect) {
  const half = camera.orthographic ? camera.height / 2 : Math.tan(Math.min(camera.height, Math.PI - 1e-3) / 2);
  return aspect >= 1 ? [half * aspect, half] : [half, half / aspect];
}

/**
 * Near and far planes that hold the boxes, as the service fits them.
 * @param {{orthographic: boolean}} camera
 * @param {number[]} view
 * @param {Array<[number[], number[]]>} boxes world boxes, [minimum, maximum]
 * @returns {[number, number]}
 */
export function clippingRange(camera, view, boxes) {
  if (!boxes.length) return [1, 2];
  const depths = [];
  for (const [low, high] of boxes) {
    for (let corner = 0; corner < 8; corner += 1) {
      const point = [corner & 1 ? high[0] : low[0], corner & 2 ? high[1] : low[1], corner & 4 ? high[2] : low[2]];
      depths.push(-transformPoint(view, point)[2]);
    }
  }
  const lo = Math.min(...depths);
  const hi = Math.max(...depths);
  if (camera.orthographic) {
    const pad = Math.max((hi - lo) * 0.01, 1e-3);
    return [lo - pad, hi + pad];
  }
  const far = Math.max(hi * 1.02, 1e-3);
  return [Math.max(lo * 0.98, far / 2000), far];
}

/**
 * The projection matrix, as `perspective_matrix` / `orthographic_matrix` make it.
 * @param {{height: number, orthographic: boolean}} camera
 * @param {number} aspect
 * @param {number} near
 * @param {number} far
 * @returns {number[]}
 */
export function projectionMatrix(camera, aspect, near, far) {
  const [hw, hh] = halfExtents(camera, aspect);
  const m = new Array(16).fill(0);
  m[0] = 1 / hw;
  m[5] = 1 / hh;
  if (camera.orthographic) {
    m[10] = -2 / (far - near);
    m[14] = -(far + near) / (far - near);
    m[15] = 1;
  } else {
    m[10] = -(far + near) / (far - near);
    m[14] = -2 * far * near / (far - near);
    m[11] = -1;
  }
  return m;
}

/**
 * The inverse transpose of a matrix's upper 3x3 (normals to view space), column-major 3x3.
 * @param {ArrayLike<number>} m
 * @returns {number[]}
 */
export function normalMatrix(m) {
  const inverse = invertAffine(m);
  return [inverse[0], inverse[4], inverse[8], inverse[1], inverse[5], inverse[9], inverse[2], inverse[6], inverse[10]];
}

/**
 * A world plane `(a, b, c, d)` in view coordinates: `plane @ inverse(view)`.
 * @param {number[]} plane
 * @param {number[]} view
 * @returns {number[]}
 */
export function planeInView(plane, view) {
  const toWorld = invertAffine(view);
  return [0, 1, 2, 3].map((column) => plane.reduce((sum, value, row) => sum + value * toWorld[column * 4 + row], 0));
}
