"""A seeded protocol fuzzer: client messages of every type, valid or mutated, for tests and benchmarks.

    fuzzer = ProtocolFuzzer(seed=9)
    data = fuzzer.message()        # str (JSON text) or bytes, as a hostile browser might send
    hello = fuzzer.hello()         # a valid hello, to open a connection before fuzzing it

The same seed gives the same messages. Mutations are the ones that broke or could break a parser:
fields removed or given values of the wrong kind, numbers no float can hold, NaN, lone
surrogates, deep nesting, overlong strings, unknown types, truncated and corrupted text, and
binary messages of every kind byte. Like :mod:`remoteviz.throttle`, it is a tool, not part of
the service.
"""

from __future__ import annotations

import json
import random
from typing import Any

MESSAGE_TYPES = ("hello", "mouse", "wheel", "key", "touch", "ack", "size", "container", "ping", "pong",
                 "keyframe", "message", "binary", "render", "scene_ack", "camera")
"""Every client message type of ``docs/protocol.md`` (``binary``: an application message in bytes)."""

_HUGE = "1" + "0" * 400  # no float holds it
_TOKENS = {"@HUGE@": _HUGE, "@NEGHUGE@": "-" + _HUGE, "@SURROGATE@": '"\\ud800"',
           "@LOWSURROGATE@": '"x\\udfff"', "@NAN@": "NaN", "@INF@": "Infinity",
           "@DEEP@": "[" * 60 + "]" * 60}
_ODD_VALUES: list[Any] = [None, True, False, -1, 0, 1.5, 2 ** 64, -(2 ** 63), 1e308, "", "x" * 300,
                          "\u202e\u0000", [], {}, [1, [2, [3]]], {"type": "ping"}, *_TOKENS]


class ProtocolFuzzer:
    """Makes client messages from a seed: ``valid_ratio`` of them valid, the rest mutated."""

    def __init__(self, seed: int, valid_ratio: float = 0.4) -> None:
        self._rng = random.Random(seed)
        self._valid_ratio = valid_ratio
        self.counts: dict[str, int] = dict.fromkeys(MESSAGE_TYPES, 0)  # messages made, per base type

    def hello(self) -> str:
        """A valid hello with a random page key."""
        return json.dumps(self._fields("hello"))

    def message(self, kinds: tuple[str, ...] = MESSAGE_TYPES) -> str | bytes:
        """One message of a type drawn from ``kinds``, valid or mutated."""
        rng = self._rng
        kind = rng.choice(kinds)
        self.counts[kind] += 1
        if kind == "binary":
            if rng.random() < self._valid_ratio:
                return b"\x02" + rng.randbytes(rng.randrange(0, 64))
            return bytes([rng.randrange(256)]) + rng.randbytes(rng.randrange(0, 64))
        fields = self._fields(kind)
        if rng.random() < self._valid_ratio:
            return json.dumps(fields)
        return self._mutate(fields)

    # ---- valid messages
    def _fields(self, kind: str) -> dict[str, Any]:
        rng = self._rng
        x, y = rng.randrange(-100, 2000), rng.randrange(-100, 2000)
        seq = rng.randrange(0, 2 ** 32)
        match kind:
            case "hello":
                return {"type": "hello", "version": 1, "client_id": rng.randbytes(16).hex(),
                        "width": rng.randrange(0, 200), "height": rng.randrange(0, 200),
                        "container_width": rng.randrange(0, 2000), "container_height": rng.randrange(0, 2000),
                        "decoders": rng.sample(["jpeg", "png", "h264", "vp9", "av1"], rng.randrange(0, 6)),
                        "application": "fuzz", "user_agent": "fuzzer"}
            case "mouse":
                return {"type": "mouse", "action": rng.choice(["down", "up", "move", "dblclick", "enter", "leave"]),
                        "x": x, "y": y, "button": rng.randrange(5), "buttons": rng.randrange(32),
                        "mods": rng.randrange(16), "seq": seq}
            case "wheel":
                return {"type": "wheel", "x": x, "y": y, "delta": rng.uniform(-10, 10), "mods": rng.randrange(16),
                        "seq": seq}
            case "key":
                return {"type": "key", "action": rng.choice(["down", "up"]), "x": x, "y": y,
                        "key": rng.choice(["a", "Shift", "ArrowLeft", "é", "F12"]), "mods": rng.randrange(16),
                        "seq": seq}
            case "touch":
                return {"type": "touch", "action": rng.choice(["start", "move", "end", "cancel"]),
                        "id": rng.randrange(10), "x": x, "y": y, "seq": seq}
            case "ack":
                return {"type": "ack", "frame": rng.randrange(0, 5), "decode_ms": rng.uniform(0, 20)}
            case "size":
                return {"type": "size", "width": rng.randrange(1, 200), "height": rng.randrange(1, 200)}
            case "container":
                return {"type": "container", "width": rng.randrange(0, 3000), "height": rng.randrange(0, 3000)}
            case "ping" | "pong":
                return {"type": kind, "t": rng.uniform(-5, 1e6)}
            case "keyframe":
                return {"type": "keyframe"}
            case "message":
                return {"type": "message", "text": rng.choice(["hi", "ünïcødé ✓", "x" * rng.randrange(200)])}
            case "render":
                return {"type": "render", "mode": rng.choice(["client", "server", "auto"]),
                        "webgl2": rng.random() < 0.8, "software": rng.random() < 0.3,
                        "memory_mb": rng.choice([0, 512, 4096, 8192])}
            case "scene_ack":
                return {"type": "scene_ack", "chunk": rng.randrange(0, 5)}
            case "camera":
                quaternion = [rng.uniform(-1, 1) for _ in range(4)]
                length = sum(v * v for v in quaternion) ** 0.5 or 1.0
                return {"type": "camera", "position": [rng.uniform(-100, 100) for _ in range(3)],
                        "orientation": [v / length for v in quaternion],
                        "focal_distance": rng.uniform(0.01, 100), "height": rng.uniform(0.1, 3),
                        "orthographic": rng.random() < 0.2, "seq": rng.randrange(0, 2 ** 32)}
        raise ValueError(f"unknown message type {kind!r}")

    # ---- mutations
    def _mutate(self, fields: dict[str, Any]) -> str:
        rng = self._rng
        for _ in range(rng.randrange(1, 4)):
            names = [n for n in fields if n != "type"] or ["type"]
            choice = rng.randrange(6)
            if choice == 0:
                fields.pop(rng.choice(names), None)
            elif choice in (1, 2):
                fields[rng.choice(names)] = rng.choice(_ODD_VALUES)
            elif choice == 3:
                fields["type"] = rng.choice([*MESSAGE_TYPES, "teleport", "", "HELLO", "accept", "frame"])
            elif choice == 4:
                fields[rng.choice(["extra", "__proto__", "x" * 40, "@SURROGATE@"])] = rng.choice(_ODD_VALUES)
            else:
                fields = {"type": fields.get("type"), **{n: rng.choice(_ODD_VALUES) for n in names}}
        text = json.dumps(fields, allow_nan=True)
        for token, raw in _TOKENS.items():
            text = text.replace(json.dumps(token), raw)  # raw JSON that json.dumps cannot write
        roll = rng.random()
        if roll < 0.1:
            text = text[:rng.randrange(len(text) + 1)]  # truncated
        elif roll < 0.2 and text:
            at = rng.randrange(len(text))
            text = text[:at] + chr(rng.randrange(32, 0x3000)) + text[at + 1:]  # one character changed
        return text


__all__ = ["MESSAGE_TYPES", "ProtocolFuzzer"]
