/**
 * Where the render area's picture sits in its container, and how a point of the container maps
 * back to render-area pixels. The service's frames are render-area pixels; the page lays them out
 * in CSS pixels of the container, per the display mode and the device pixel ratio.
 * @module layout
 */

/** How the render area's picture is shown in its container. */
export const DisplayMode = Object.freeze({
  /** Scaled to fit the container whole, keeping its aspect ratio; bars fill the rest (default). */
  FIT: "FIT",
  /** Shown at its own size (one render-area pixel per device pixel), centred, cropped by the container. */
  CROP: "CROP",
  /** Scaled to fill the container exactly, whatever the aspect ratio. */
  STRETCH: "STRETCH",
});

/**
 * Checks a display mode given by a caller.
 * @param {string} mode
 * @returns {string} the mode
 * @throws {TypeError} for anything but FIT, CROP or STRETCH
 */
export function checkDisplayMode(mode) {
  if (!Object.values(DisplayMode).includes(mode)) {
    throw new TypeError(`display mode must be one of ${Object.values(DisplayMode).join(", ")}, not ${mode}`);
  }
  return mode;
}

/**
 * The picture's rectangle in the container, in CSS pixels, and how many CSS pixels one
 * render-area pixel covers along each axis.
 * @typedef {object} Layout
 * @property {number} left
 * @property {number} top
 * @property {number} width
 * @property {number} height
 * @property {number} scaleX CSS pixels per render-area pixel
 * @property {number} scaleY
 * @property {number} areaWidth render-area pixels
 * @property {number} areaHeight
 */

/**
 * Lays the render area out in its container.
 * @param {string} mode a {@link DisplayMode}
 * @param {number} containerWidth CSS pixels
 * @param {number} containerHeight CSS pixels
 * @param {number} areaWidth render-area pixels
 * @param {number} areaHeight render-area pixels
 * @param {number} pixelRatio device pixels per CSS pixel (`devicePixelRatio`); only CROP uses it,
 *   since the other modes scale the picture to the container whatever its pixel count
 * @returns {Layout}
 */
export function computeLayout(mode, containerWidth, containerHeight, areaWidth, areaHeight, pixelRatio) {
  if (areaWidth <= 0 || areaHeight <= 0) {
    // Before the service names a size there is nothing to place; fill the container so that the
    // mapping stays finite.
    return { left: 0, top: 0, width: containerWidth, height: containerHeight, scaleX: 1, scaleY: 1, areaWidth, areaHeight };
  }
  let scaleX;
  let scaleY;
  if (mode === DisplayMode.STRETCH) {
    scaleX = containerWidth / areaWidth;
    scaleY = containerHeight / areaHeight;
  } else {
    const scale = mode === DisplayMode.CROP ? 1 / pixelRatio : Math.min(containerWidth / areaWidth, containerHeight / areaHeight);
    scaleX = scale;
    scaleY = scale;
  }
  const width = areaWidth * scaleX;
  const height = areaHeight * scaleY;
  return {
    left: (containerWidth - width) / 2,
    top: (containerHeight - height) / 2,
    width,
    height,
    scaleX,
    scaleY,
    areaWidth,
    areaHeight,
  };
}

/**
 * Maps a point of the container (CSS pixels from its top-left corner) to render-area pixels.
 * Points in the bars around a fitted picture map outside the render area, and say so: a drag
 * that leaves the picture goes on, but a click in the bars is not a click on the scene.
 * @param {Layout} layout
 * @param {number} x
 * @param {number} y
 * @returns {{x: number, y: number, inside: boolean}} `x`, `y` are whole pixels (the pixel under the point)
 */
export function containerToArea(layout, x, y) {
  const areaX = Math.floor((x - layout.left) / layout.scaleX);
  const areaY = Math.floor((y - layout.top) / layout.scaleY);
  const inside = areaX >= 0 && areaY >= 0 && areaX < layout.areaWidth && areaY < layout.areaHeight;
  return { x: areaX, y: areaY, inside };
}

/**
 * The render-area size, in pixels, that shows a container sharply: its CSS size times the pixel ratio.
 * @param {number} containerWidth CSS pixels
 * @param {number} containerHeight CSS pixels
 * @param {number} pixelRatio device pixels per CSS pixel
 * @returns {{width: number, height: number}}
 */
export function areaSizeFor(containerWidth, containerHeight, pixelRatio) {
  return { width: Math.round(containerWidth * pixelRatio), height: Math.round(containerHeight * pixelRatio) };
}
