/**
 * The display backend for server pictures: image frames (JPEG, PNG) through an
 * {@link ImageFrameQueue}, video frames (H.264, VP9, AV1) through a {@link VideoStream}, both
 * painted by the hook handed in. The decoders are handed in too, so Node can drive it.
 * @module frame-display
 */

import { VIDEO_CODECS } from "./protocol.js";
import { ImageFrameQueue, VideoStream } from "./frames.js";

/**
 * Makes the `createDisplay` hook of a {@link import("./connection-core.js").ConnectionCore} that
 * shows server pictures.
 * @param {object} hooks
 * @param {(frame: import("./protocol.js").Frame) => Promise<import("./frames.js").Picture>} hooks.decodeImage
 * @param {(callbacks: object) => import("./frames.js").FrameDecoder} hooks.createVideoDecoder
 * @param {import("./frames.js").PaintFunction} hooks.paint
 * @param {() => number} [hooks.now]
 * @returns {import("./connection-core.js").CreateDisplay}
 */
export function frameDisplay({ decodeImage, createVideoDecoder, paint, now }) {
  return ({ done, requestKeyFrame }) => {
    const images = new ImageFrameQueue({ decode: decodeImage, paint, done, now });
    const video = new VideoStream({
      createDecoder: createVideoDecoder,
      paint,
      done,
      requestKeyFrame,
      onError: (error) => console.warn("remoteviz: video decoder failed", error),
      now,
    });
    return {
      push: (frame) => (VIDEO_CODECS.includes(frame.codec) ? video.push(frame) : images.push(frame)),
      configure: (stream) => video.configure(stream),
      close: () => {
        images.close();
        video.close();
      },
    };
  };
}
