// Screenshots and recordings from the built-in page: a PNG still rendered by the service at full
// size and quality, and a WebM (or MP4) recording of the picture the page shows.

/** Longest recording, in seconds: it stops by itself then. */
export const MAX_RECORDING_SECONDS = 120;

const RECORDING_TYPES = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm", "video/mp4"];

/** Offers bytes as a file download named `name`. */
export function download(bytes, type, name) {
  const url = URL.createObjectURL(bytes instanceof Blob ? bytes : new Blob([bytes], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A name for a saved file: remoteviz-AREA-2026-12-07T12-30-05.EXT */
export function fileName(areaId, extension) {
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, "-");
  return `remoteviz-${areaId.replace(/[^\w.-]+/g, "_")}-${stamp}.${extension}`;
}

/**
 * Records the render area's canvas (the decoded frames as the page paints them) with
 * MediaRecorder, and offers the recording as a download when stopped.
 */
export class Recorder {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {(recording: boolean) => void} onChange told when recording starts and stops
   */
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.onChange = onChange;
    this._recorder = null;
    this._timer = null;
  }

  /** Whether this browser can record a canvas. */
  static supported() {
    return typeof MediaRecorder !== "undefined" && typeof HTMLCanvasElement.prototype.captureStream === "function";
  }

  get recording() {
    return this._recorder !== null;
  }

  /** Starts recording; `save(blob, extension)` receives the recording when it stops. */
  start(save) {
    if (this._recorder) return;
    const type = RECORDING_TYPES.find((t) => MediaRecorder.isTypeSupported(t)) || "";
    const stream = this.canvas.captureStream(30);
    const recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    const chunks = [];
    recorder.ondataavailable = (event) => {
      if (event.data.size) chunks.push(event.data);
    };
    recorder.onstop = () => {
      for (const track of stream.getTracks()) track.stop();
      const mime = recorder.mimeType || type || "video/webm";
      save(new Blob(chunks, { type: mime }), mime.startsWith("video/mp4") ? "mp4" : "webm");
    };
    recorder.start(1000);
    this._recorder = recorder;
    this._timer = setTimeout(() => this.stop(), MAX_RECORDING_SECONDS * 1000);
    this.onChange(true);
  }

  /** Stops recording (the download follows). */
  stop() {
    if (!this._recorder) return;
    clearTimeout(this._timer);
    const recorder = this._recorder;
    this._recorder = null;
    recorder.stop();
    this.onChange(false);
  }
}
