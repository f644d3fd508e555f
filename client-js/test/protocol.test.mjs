import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import {
  FRAME_HEADER_SIZE,
  PROTOCOL_VERSION,
  ProtocolError,
  ackMessage,
  binaryMessage,
  containerMessage,
  disconnectReason,
  DisconnectReason,
  failureEvent,
  helloMessage,
  keyFrameMessage,
  keyMessage,
  mouseMessage,
  parseServiceBinary,
  parseServiceText,
  pongMessage,
  sizeMessage,
  streamingMode,
  textMessage,
  touchMessage,
  webSocketUrl,
  wheelMessage,
} from "../src/protocol.js";

const SPEC = new URL("../../docs/protocol.md", import.meta.url);

/**
 * The field names of each message type in one of the spec's tables: the backquoted names in the
 * "fields" column once the parenthesised explanations (which quote values and DOM names) are gone.
 */
function specFields(heading) {
  const text = readFileSync(SPEC, "utf8");
  const section = text.slice(text.indexOf(heading), text.indexOf("\n## ", text.indexOf(heading) + 1));
  const fields = new Map();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    const type = /^`(\w+)`$/.exec(cells[1] ?? "")?.[1];
    if (!type) continue;
    let column = cells[2];
    while (/\([^()]*\)/.test(column)) column = column.replace(/\([^()]*\)/g, "");
    fields.set(type, [...column.matchAll(/`(\w+)`/g)].map((match) => match[1]).sort());
  }
  return fields;
}

// One instance of every message the client sends, as it goes on the wire (inputs carry their seq).
const OUTGOING = {
  hello: helloMessage({ clientId: "page", width: 800, height: 600, containerWidth: 400, containerHeight: 300, decoders: ["jpeg", "png", "h264"], application: "demo", userAgent: "ua" }),
  mouse: { ...mouseMessage("down", 10, 20, 0, 1, 3), seq: 1 },
  wheel: { ...wheelMessage(10, 20, 3, 0), seq: 2 },
  key: { ...keyMessage("down", 10, 20, "a", 0), seq: 3 },
  touch: { ...touchMessage("start", 7, 10, 20), seq: 4 },
  ack: ackMessage(12, 3.25),
  size: sizeMessage(640, 480),
  container: containerMessage(320, 240),
  pong: pongMessage(5),
  keyframe: keyFrameMessage(),
  message: textMessage("color off"),
};

test("every outgoing message has exactly the fields docs/protocol.md lists for its type", { skip: !existsSync(SPEC) && "docs/protocol.md is not beside client-js" }, () => {
  const spec = specFields("## Client to service (text)");
  for (const [type, message] of Object.entries(OUTGOING)) {
    assert.equal(message.type, type);
    assert.ok(spec.has(type), `docs/protocol.md has no client message "${type}"`);
    const { type: _, ...fields } = JSON.parse(JSON.stringify(message));
    assert.deepEqual(Object.keys(fields).sort(), spec.get(type), `fields of "${type}"`);
  }
});

test("outgoing messages serialise to the exact JSON of the spec", () => {
  const json = (message) => JSON.stringify(message);
  assert.equal(json(OUTGOING.hello), '{"type":"hello","version":1,"client_id":"page","width":800,"height":600,"container_width":400,"container_height":300,"decoders":["jpeg","png","h264"],"application":"demo","user_agent":"ua"}');
  assert.equal(json(OUTGOING.mouse), '{"type":"mouse","action":"down","x":10,"y":20,"button":0,"buttons":1,"mods":3,"seq":1}');
  assert.equal(json(OUTGOING.wheel), '{"type":"wheel","x":10,"y":20,"delta":3,"mods":0,"seq":2}');
  assert.equal(json(OUTGOING.key), '{"type":"key","action":"down","x":10,"y":20,"key":"a","mods":0,"seq":3}');
  assert.equal(json(OUTGOING.touch), '{"type":"touch","action":"start","id":7,"x":10,"y":20,"seq":4}');
  assert.equal(json(OUTGOING.ack), '{"type":"ack","frame":12,"decode_ms":3.3}');
  assert.equal(json(OUTGOING.size), '{"type":"size","width":640,"height":480}');
  assert.equal(json(OUTGOING.container), '{"type":"container","width":320,"height":240}');
  assert.equal(json(OUTGOING.pong), '{"type":"pong","t":5}');
  assert.equal(json(OUTGOING.keyframe), '{"type":"keyframe"}');
  assert.equal(json(OUTGOING.message), '{"type":"message","text":"color off"}');
  assert.equal(PROTOCOL_VERSION, 1);
});

test("builders keep values within the bounds the service enforces", () => {
  assert.deepEqual(sizeMessage(0, 10000), { type: "size", width: 1, height: 8192 });
  assert.deepEqual(containerMessage(-5, 99999), { type: "container", width: 0, height: 8192 });
  assert.equal(wheelMessage(0, 0, 5000, 0).delta, 1000);
  assert.equal(wheelMessage(0, 0, -5000, 0).delta, -1000);
  assert.equal(mouseMessage("move", 1e6, -1e6, 0, 0, 0).x, 32768);
  assert.equal(mouseMessage("move", 1e6, -1e6, 0, 0, 0).y, -32768);
  assert.equal(mouseMessage("move", 2.7, -0.5, 0, 0, 0).x, 2, "pixel under the point");
  assert.equal(mouseMessage("move", 2.7, -0.5, 0, 0, 0).y, -1);
  assert.equal(mouseMessage("down", 0, 0, 0, 0xff, 0).buttons, 31);
  assert.equal(keyMessage("down", 0, 0, "x".repeat(40), 0).key.length, 32);
  assert.equal(keyMessage("down", 0, 0, "😀".repeat(40), 0).key, "😀".repeat(32), "cut by code points");
  assert.equal(touchMessage("start", 2 ** 40, 0, 0).id, 2 ** 31 - 1);
  assert.equal(ackMessage(1, -3).decode_ms, 0);
  const hello = helloMessage({ clientId: "c".repeat(200), width: 9000, height: -1, containerWidth: 1, containerHeight: 1, decoders: [], application: "a".repeat(300), userAgent: "u".repeat(2000) });
  assert.equal(hello.client_id.length, 128);
  assert.equal(hello.width, 8192);
  assert.equal(hello.height, 0);
  assert.equal(hello.application.length, 256);
  assert.equal(hello.user_agent.length, 1024);
});

test("a binary application message is the kind byte 2 then the bytes, from any byte container", () => {
  assert.deepEqual([...binaryMessage(new Uint8Array([7, 8, 9]))], [2, 7, 8, 9]);
  assert.deepEqual([...binaryMessage(new Uint8Array([7, 8, 9]).buffer)], [2, 7, 8, 9]);
  const window = new Uint8Array([0, 1, 2, 3, 4]).subarray(1, 3);
  assert.deepEqual([...binaryMessage(window)], [2, 1, 2]);
});

/** A frame message built by hand from the spec's table: offset, type, field. */
function buildFrame({ kind = 1, codec, flags, reserved = 0, id, width, height, areaWidth, areaHeight, inputSeq, text, payload }) {
  const textBytes = new TextEncoder().encode(text);
  const bytes = new Uint8Array(24 + textBytes.length + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, kind);
  view.setUint8(1, codec);
  view.setUint8(2, flags);
  view.setUint8(3, reserved);
  view.setUint32(4, id, true);
  view.setUint16(8, width, true);
  view.setUint16(10, height, true);
  view.setUint16(12, areaWidth, true);
  view.setUint16(14, areaHeight, true);
  view.setUint32(16, inputSeq, true);
  view.setUint32(20, textBytes.length, true);
  bytes.set(textBytes, 24);
  bytes.set(payload, 24 + textBytes.length);
  return bytes;
}

const SAMPLE = { codec: 2, flags: 3, id: 0xfedcba98, width: 0x1234, height: 0x0567, areaWidth: 0x2000, areaHeight: 0x1abc, inputSeq: 0x89abcdef, text: "héllo", payload: new Uint8Array([0xff, 0xd8, 0x00, 0x01]) };

test("a frame header parses field by field, little-endian, and splits text from payload", () => {
  const bytes = buildFrame(SAMPLE);
  const frame = parseServiceBinary(bytes.buffer);
  assert.equal(FRAME_HEADER_SIZE, 24);
  assert.equal(frame.type, "frame");
  assert.equal(frame.codec, "png");
  assert.equal(frame.key, true);
  assert.equal(frame.still, true);
  assert.equal(frame.id, 0xfedcba98);
  assert.equal(frame.width, 0x1234);
  assert.equal(frame.height, 0x0567);
  assert.equal(frame.areaWidth, 0x2000);
  assert.equal(frame.areaHeight, 0x1abc);
  assert.equal(frame.inputSeq, 0x89abcdef);
  assert.equal(frame.text, "héllo");
  assert.deepEqual([...frame.payload], [0xff, 0xd8, 0x00, 0x01]);
  assert.equal(frame.byteLength, bytes.length);
});

test("frame flags and codecs decode independently", () => {
  const names = { 1: "jpeg", 2: "png", 3: "h264", 4: "vp9", 5: "av1" };
  for (const [id, name] of Object.entries(names)) {
    assert.equal(parseServiceBinary(buildFrame({ ...SAMPLE, codec: Number(id) })).codec, name);
  }
  const delta = parseServiceBinary(buildFrame({ ...SAMPLE, flags: 0 }));
  assert.deepEqual([delta.key, delta.still], [false, false]);
  const still = parseServiceBinary(buildFrame({ ...SAMPLE, flags: 2 }));
  assert.deepEqual([still.key, still.still], [false, true]);
});

test("a frame without text has all the rest as payload; a frame inside a larger buffer parses", () => {
  const frame = parseServiceBinary(buildFrame({ ...SAMPLE, text: "" }));
  assert.equal(frame.text, "");
  assert.deepEqual([...frame.payload], [...SAMPLE.payload]);
  const bytes = buildFrame(SAMPLE);
  const padded = new Uint8Array(bytes.length + 8);
  padded.set(bytes, 5);
  assert.equal(parseServiceBinary(padded.subarray(5, 5 + bytes.length)).id, SAMPLE.id);
});

test("malformed binary messages are protocol errors", () => {
  assert.throws(() => parseServiceBinary(new ArrayBuffer(0)), ProtocolError);
  assert.throws(() => parseServiceBinary(new Uint8Array([9, 0, 0])), /kind 9/);
  assert.throws(() => parseServiceBinary(buildFrame(SAMPLE).subarray(0, 23)), /header/);
  assert.throws(() => parseServiceBinary(buildFrame({ ...SAMPLE, codec: 6 })), /codec id 6/);
  const truncated = buildFrame(SAMPLE).subarray(0, 26); // the text is 6 bytes long
  assert.throws(() => parseServiceBinary(truncated), /text runs past/);
});

test("a binary application message from the service is the bytes after the kind byte", () => {
  const message = parseServiceBinary(new Uint8Array([2, 5, 6]));
  assert.equal(message.type, "message");
  assert.deepEqual([...message.data], [5, 6]);
});

test("text messages must be JSON objects with a string type", () => {
  assert.deepEqual(parseServiceText('{"type":"resize","width":3,"height":4}'), { type: "resize", width: 3, height: 4 });
  for (const text of ["nope", "[]", "null", '{"type":3}', "{}"]) assert.throws(() => parseServiceText(text), ProtocolError, text);
});

test("the disconnect message's reason wins over the close code", () => {
  assert.deepEqual(disconnectReason(4003, { reason: "REFUSED", detail: "bad token" }), { reason: "REFUSED", detail: "bad token" });
  assert.deepEqual(disconnectReason(1006, { reason: "KICKED", detail: "" }, "", "why"), { reason: "KICKED", detail: "why" });
});

test("close codes map to reasons when the service said nothing", () => {
  const reason = (code) => disconnectReason(code, null).reason;
  assert.equal(reason(1000), "DISPOSED");
  assert.equal(reason(4001), "DISPOSED");
  assert.equal(reason(4002), "REFUSED");
  assert.equal(reason(4003), "KICKED");
  assert.equal(reason(4004), "NETWORKFAILURE");
  assert.equal(reason(4400), "KICKED", "a protocol error is not worth retrying");
  assert.equal(reason(4429), "KICKED");
  assert.equal(reason(4500), "NETWORKFAILURE");
  assert.equal(reason(1006), "NETWORKFAILURE");
  assert.equal(reason(1011), "NETWORKFAILURE");
  assert.deepEqual(disconnectReason(4400, null, "bad ack"), { reason: "KICKED", detail: "bad ack" });
  assert.match(disconnectReason(1006, null).detail, /1006/);
});

test("the streaming mode follows the accepted encoders", () => {
  assert.equal(streamingMode("PNG", "JPEG"), "image");
  assert.equal(streamingMode("JPEG", "JPEG"), "image");
  assert.equal(streamingMode("H264_NVENC", "H264_NVENC"), "video");
  assert.equal(streamingMode("VP9_VPX", "VP9_VPX"), "video");
  assert.equal(streamingMode("av1", "av1"), "video");
});

test("connect URLs keep ws and wss, and map http(s) and relative paths to them", () => {
  const page = "https://viewer.example/app/index.html";
  assert.equal(webSocketUrl("ws://host:8080/TheCone?width=10", page), "ws://host:8080/TheCone?width=10");
  assert.equal(webSocketUrl("wss://host/TheCone", page), "wss://host/TheCone");
  assert.equal(webSocketUrl("/TheCone", page), "wss://viewer.example/TheCone");
  assert.equal(webSocketUrl("TheCone?token=t", "http://localhost:8080/"), "ws://localhost:8080/TheCone?token=t");
});

test("a message too big for the service ends the connection without a reconnect", () => {
  assert.equal(disconnectReason(1009, null, "", "message too big").reason, DisconnectReason.KICKED);
  assert.equal(disconnectReason(1006, null).reason, DisconnectReason.NETWORKFAILURE);
});

test("a failure message becomes a failure event a page can show, and docs/protocol.md lists its fields", () => {
  const wire = parseServiceText('{"type":"failure","stage":"encode","detail":"RuntimeError: broke","retry_ms":400}');
  assert.deepEqual(failureEvent(wire), ["failure", { stage: "encode", detail: "RuntimeError: broke", retryMs: 400 }]);
  // Whatever a service sends, the event has the documented shape.
  assert.deepEqual(failureEvent({ retry_ms: "soon" }), ["failure", { stage: "", detail: "", retryMs: 0 }]);
  assert.deepEqual(failureEvent({ stage: "render", detail: 3, retry_ms: -1 }), ["failure", { stage: "render", detail: "3", retryMs: 0 }]);
  if (existsSync(SPEC)) assert.deepEqual(specFields("## Service to client (text)").get("failure"), ["detail", "retry_ms", "stage"]);
});
