/**
 * What a client-side page holds of its render area's scene: the records of the last `scene`
 * updates, and the buffers they name, put together from their chunks and inflated. No DOM and no
 * WebGL here: inflating is handed in (`DecompressionStream` in browsers and Node), so Node tests
 * it; `webgl-renderer.js` draws what it holds.
 * @module scene-store
 */

const BUFFER_KEYS = ["positions", "normals", "indices", "colors", "sizes", "texcoords"];

/**
 * The buffer names a record draws with (its full detail; the coarse copy's are `bufferNames(record.coarse)`).
 * @param {object} record
 * @returns {string[]}
 */
export function bufferNames(record) {
  const names = BUFFER_KEYS.map((key) => record[key]).filter(Boolean);
  return record.texture ? [...names, record.texture.image] : names; // a textured mesh's image
}

/**
 * Every buffer name a record holds on to: its full detail's and its coarse copy's.
 * @param {object} record
 * @returns {string[]}
 */
function heldNames(record) {
  return record.coarse ? [...bufferNames(record), ...bufferNames(record.coarse)] : bufferNames(record);
}

/**
 * Inflates zlib-deflated bytes with the platform's `DecompressionStream`.
 * @param {Uint8Array} bytes
 * @returns {Promise<Uint8Array>}
 */
export async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The records and buffers of one client-side view. */
export class SceneStore {
  /**
   * @param {object} hooks
   * @param {(bytes: Uint8Array) => Promise<Uint8Array>} [hooks.inflate]
   * @param {(chunk: number) => void} hooks.ack acknowledges a chunk (sends `scene_ack`)
   * @param {() => void} hooks.changed the scene or its camera changed: draw again
   */
  constructor({ inflate: inflateBytes = inflate, ack, changed }) {
    this._inflate = inflateBytes;
    this._ack = ack;
    this._changed = changed;
    /** @type {Map<string, object>} by record id */
    this.records = new Map();
    /** @type {Map<string, Uint8Array>} inflated buffers by name */
    this.buffers = new Map();
    /** @type {Map<string, {data: Uint8Array, received: number}>} deflated buffers on their way */
    this._arriving = new Map();
    this._expected = new Map(); // name -> deflated size, of the buffers announced and not yet whole
    this.camera = null;
    this.background = null;
    this.updates = 0;
    this.bytesReceived = 0;
    this._bytesAnnounced = 0;
    this._inflating = 0;
  }

  /**
   * Takes a `scene` message: records changed or removed, the camera and background.
   * @param {{full: boolean, records: object[], removed: string[], buffers: Record<string, number>, camera?: object, background?: object}} message
   */
  update(message) {
    if (message.full) this.records.clear();
    for (const id of message.removed ?? []) this.records.delete(id);
    for (const record of message.records ?? []) this.records.set(record.id, record);
    for (const [name, size] of Object.entries(message.buffers ?? {})) {
      this._expected.set(name, size);
      this._bytesAnnounced += size;
    }
    if ("camera" in message) this.camera = message.camera;
    if ("background" in message) this.background = message.background;
    this.updates += 1;
    // The service forgets the buffers no record names any more, and so does the page.
    const referenced = new Set([...this.records.values()].flatMap(heldNames));
    for (const name of [...this.buffers.keys()]) if (!referenced.has(name)) this.buffers.delete(name);
    for (const name of [...this._expected.keys()]) {
      if (!referenced.has(name)) {
        this._expected.delete(name);
        this._arriving.delete(name);
      }
    }
    this._changed();
  }

  /**
   * Takes a scene chunk; acknowledges it at once (the window is about what has arrived).
   * @param {import("./protocol.js").SceneChunk} chunk
   */
  chunk(chunk) {
    this._ack(chunk.chunk);
    this.bytesReceived += chunk.payload.length;
    const expected = this._expected.get(chunk.buffer);
    if (expected === undefined || expected !== chunk.total) return; // a buffer no record needs any more
    let arriving = this._arriving.get(chunk.buffer);
    if (!arriving) {
      arriving = { data: new Uint8Array(chunk.total), received: 0 };
      this._arriving.set(chunk.buffer, arriving);
    }
    arriving.data.set(chunk.payload, chunk.offset);
    arriving.received += chunk.payload.length;
    if (arriving.received < chunk.total) return;
    this._arriving.delete(chunk.buffer);
    this._inflating += 1;
    this._inflate(arriving.data).then((bytes) => {
      this._inflating -= 1;
      if (!this._expected.delete(chunk.buffer)) return;
      this.buffers.set(chunk.buffer, bytes);
      this._changed();
    }, (error) => {
      this._inflating -= 1;
      this._expected.delete(chunk.buffer);
      console.warn(`remoteviz: scene buffer ${chunk.buffer} could not be inflated`, error);
    });
  }

  /**
   * Whether every buffer of a record is here.
   * @param {object} record
   * @returns {boolean}
   */
  ready(record) {
    return bufferNames(record).every((name) => this.buffers.has(name));
  }

  /**
   * What to draw of a record now: the record itself once its full detail is here, else its coarse
   * copy (the record with the copy's geometry fields) once that is here, else null.
   * @param {object} record
   * @returns {object|null}
   */
  drawable(record) {
    if (this.ready(record)) return record;
    if (!record.coarse || !bufferNames(record.coarse).every((name) => this.buffers.has(name))) return null;
    const { coarse, ...rest } = record;
    return { ...rest, ...coarse };
  }

  /** @returns {object[]} what to draw of every record that can be drawn now (see `drawable`) */
  drawn() {
    return [...this.records.values()].map((record) => this.drawable(record)).filter(Boolean);
  }

  /**
   * Whether the page holds a picture of the whole scene: an update, and every record drawable,
   * be it as its coarse copy, except the later parts of a big point set (each part is a fair
   * sample of the whole, so its first part pictures it).
   * @returns {boolean}
   */
  get pictured() {
    if (this.updates === 0) return false;
    for (const record of this.records.values()) {
      if ((record.part ?? 0) === 0 && !this.drawable(record)) return false;
    }
    return true;
  }

  /**
   * Whether the scene has arrived whole: an update, every buffer it names, and no record still
   * `provisional` (a big mesh sent as its coarse copy alone while its full detail is encoded).
   * @returns {boolean}
   */
  get complete() {
    if (this.updates === 0 || this._expected.size > 0 || this._inflating > 0) return false;
    for (const record of this.records.values()) if (record.provisional) return false;
    return true;
  }

  /** @returns {{received: number, total: number}} deflated bytes received, and announced, since the scene began */
  progress() {
    return { received: this.bytesReceived, total: this._bytesAnnounced };
  }
}
