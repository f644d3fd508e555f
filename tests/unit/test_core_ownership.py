"""The service core owns its state: nothing outside it writes it.

The core is :mod:`remoteviz.service_core`, the frame path's decisions (``remoteviz/pipeline/``) and the
back-off (:mod:`remoteviz.failures`). Each of its classes keeps its instance fields private, shows what
others read as properties without setters (or as fields of a frozen dataclass), and changes them only
in its own methods. So a public write fails at run time, and a private one anywhere but on ``self`` is
seen in the source (here, and as a reach-in by test_layering.py). Every check is shown to fail on a
planted write.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import subprocess
import sys

import numpy as np
import pytest

from remoteviz.failures import VIEWER_DETAIL, Backoff, KindLog
from remoteviz.pipeline.frames import EncodedFrame, FrameHeader, RenderedFrame
from remoteviz.pipeline.scheduler import AreaSchedule
from remoteviz.protocol import Codec, DisconnectReason, FrameFlags, Ping
from remoteviz.service_core import ServiceCore

from .package_modules import MODULES, ROOT
from .test_layering import reach_ins
from .test_service_core import Core

CORE = ("remoteviz.service_core", "remoteviz.failures", "remoteviz.pipeline")
"""The core's modules (a package: its modules too)."""


def in_core(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in CORE)


def core_classes() -> set[type]:
    """The public classes the core's modules define (Protocols aside: another object implements them)."""
    found = set()
    for name in MODULES:
        if in_core(name):
            for value in vars(importlib.import_module(name)).values():
                if isinstance(value, type) and value.__module__ == name and not value.__name__.startswith("_") \
                        and not getattr(value, "_is_protocol", False):
                    found.add(value)
    return found


def live_core_objects() -> list[object]:
    """One real instance of each class of the core, used: a service core whose connection was sent a
    frame that it acknowledged, whose area rendered, failed and recovered."""
    core = Core()
    calibrating = core.open("L0", "Other", page="another")  # a Send and a Calibrate
    connection = core.accepted("L1")
    schedule, outgoing = core.core.schedule(connection.render_area), core.core.outgoing(connection)
    rendered = RenderedFrame(np.zeros((8, 8, 3), np.uint8), True, 8, 8, {connection.id: 0})
    schedule.render_started()
    schedule.render_ended()
    schedule.rendered(True, 0.01)
    schedule.encoded(0.005, interactive=True)
    schedule.decide_render_scale(0.02, 1.0)
    report = schedule.failed("encode", RuntimeError("boom"), 1.0, VIEWER_DETAIL["encode"])
    schedule.succeeded()
    header = FrameHeader(Codec.JPEG, FrameFlags.KEY, 8, 8, 8, 8, 0, b"")
    offered = outgoing.offer(EncodedFrame(header, b"jpeg", False), 1.0)
    assert offered.send is not None
    core.core.transmit(connection, offered.send)
    ack, _ = outgoing.ack(offered.send.frame_id, 1.0, 10.0, 1.1)
    core.core.send(connection, Ping(1.1))
    sent = core.core.take_actions()
    core.core.close_connection(connection, DisconnectReason.KICKED, "the test is over")
    closed = core.core.take_actions()
    backoff = Backoff()
    backoff.failed("render", RuntimeError("boom"), 0.0)
    kinds = KindLog()
    kinds.should_log(("render", "boom"), 0.0)
    return [core.core, core.scheduler, schedule, schedule.render_scale, outgoing, outgoing.pacer, outgoing.rate,
            outgoing.rate.targets, backoff, kinds, report, rendered, header, offered, offered.send,
            offered.send.frame, ack, *calibrating, *sent, *closed]


# ---- (a) every class of the core keeps its state private


def frozen_dataclass(cls: type) -> bool:
    return dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


def writable_public_names(cls: type) -> list[str]:
    """The public names of ``cls`` that are state others could write: a field of a dataclass that is not
    frozen, a property with a setter or deleter, a public slot, a class attribute, a declared field."""
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    found = set() if frozen_dataclass(cls) else set(fields)
    for klass in cls.__mro__[:-1]:  # object's are Python's
        for name, value in vars(klass).items():
            if name.startswith("_") or name in fields:
                continue
            if isinstance(value, property):
                if value.fset is not None or value.fdel is not None:
                    found.add(name)
            elif not (inspect.isfunction(value) or isinstance(value, (staticmethod, classmethod))):
                found.add(name)  # a public slot (a member descriptor) or a class attribute: writable
        found.update(name for name in vars(klass).get("__annotations__", {})
                     if not name.startswith("_") and name not in fields)
    return sorted(found)


def instance_state(obj: object) -> list[str]:
    """The names of ``obj``'s instance fields (its ``__dict__`` and the slots it has set)."""
    names = set(vars(obj)) if hasattr(obj, "__dict__") else set()
    for klass in type(obj).__mro__:
        slots = vars(klass).get("__slots__", ())
        names.update(s for s in ((slots,) if isinstance(slots, str) else slots)
                     if s != "__weakref__" and hasattr(obj, s))
    return sorted(names)


def public_state(obj: object) -> list[str]:
    """Instance fields of ``obj`` that are public, but for the fields of a frozen dataclass."""
    frozen = frozen_dataclass(type(obj))
    fields = {f.name for f in dataclasses.fields(obj)} if frozen else set()  # type: ignore[arg-type]
    return [name for name in instance_state(obj) if not name.startswith("_") and name not in fields]


def test_the_live_objects_cover_every_class_of_the_core() -> None:
    classes = core_classes()
    assert {"ServiceCore", "Scheduler", "AreaSchedule", "Outgoing", "Pacer", "RateController", "RenderScale",
            "Backoff", "KindLog", "Targets", "Report"} <= {c.__name__ for c in classes}
    # A class added to the core is checked from its first day: it needs a live instance here.
    assert {type(obj) for obj in live_core_objects()} == classes


def test_every_class_of_the_core_keeps_its_instance_state_private() -> None:
    for cls in core_classes():
        assert writable_public_names(cls) == [], cls
    for obj in live_core_objects():
        assert public_state(obj) == [], type(obj)
        if not frozen_dataclass(type(obj)):
            assert instance_state(obj), type(obj)  # the check sees its fields


def test_the_privacy_check_flags_a_planted_public_field() -> None:
    class Planted:
        count_limit = 3  # shared by every instance, and writable

        def __init__(self) -> None:
            self._fine = 0
            self.count = 0  # the planted public field

        @property
        def settable(self) -> int:
            return self._fine

        @settable.setter
        def settable(self, value: int) -> None:
            self._fine = value

    @dataclasses.dataclass
    class Loose:
        open_field: int

    class Slotted:
        __slots__ = ("_ok", "shown")

        def __init__(self) -> None:
            self._ok, self.shown = 1, 2

    assert writable_public_names(Planted) == ["count_limit", "settable"]
    assert public_state(Planted()) == ["count"]
    assert writable_public_names(Loose) == ["open_field"] and public_state(Loose(1)) == ["open_field"]
    assert writable_public_names(Slotted) == ["shown"] and public_state(Slotted()) == ["shown"]


# ---- (b) nothing outside the core writes a core object's state


def private_core_fields() -> set[str]:
    """The private field names of the core's objects, as their live instances have them."""
    return {name for obj in live_core_objects() for name in instance_state(obj) if name.startswith("_")}


def core_writes(source: str, fields: set[str]) -> list[str]:
    """Writes of a core object's private field in ``source`` on anything but ``self``/``cls``: an
    assignment, an augmented one or a ``del`` of ``x._field``, or ``setattr``/``delattr`` of one by name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            target, name = node.value, node.attr
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("setattr", "delattr", "object.__setattr__") \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
            target, name = node.args[0], str(node.args[1].value)
        else:
            continue
        if name in fields and not (isinstance(target, ast.Name) and target.id in ("self", "cls")):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def sources_outside_the_core() -> dict[str, str]:
    """Every module of the package outside the core, and the tests, benchmarks and examples."""
    paths = [p for name, p in MODULES.items() if not in_core(name)]
    paths += [p for folder in ("tests", "benchmarks", "examples") for p in (ROOT / folder).rglob("*.py")]
    return {str(p.relative_to(ROOT)): p.read_text() for p in sorted(paths)}


def test_no_module_outside_the_core_writes_a_core_objects_private_field() -> None:
    fields = private_core_fields()
    assert {"_dirty", "_pending", "_slot", "_window", "_retry_at", "_clients"} <= fields
    found = [f"{path}:{line}" for path, source in sources_outside_the_core().items()
             for line in core_writes(source, fields)]
    assert found == [], "\n".join(found)
    # Nor do the core's objects write each other's: each writes its own, on self.
    inside = [f"{path}:{line}" for name, path in MODULES.items() if in_core(name)
              for line in core_writes(path.read_text(), fields)]
    assert inside == [], "\n".join(inside)


def test_a_planted_private_write_in_the_frame_path_is_flagged() -> None:
    fields = private_core_fields()
    source = MODULES["remoteviz.frame_path"].read_text()
    assert core_writes(source, fields) == [] and reach_ins(source) == []
    planted = source + ("\n\ndef _force(schedule: AreaSchedule, core: ServiceCore, area: RenderArea) -> None:\n"
                        "    schedule._dirty = True\n"
                        "    core.schedule(area)._pending = None\n")
    expected = ["schedule._dirty", "core.schedule(area)._pending"]
    assert [line.split(": ", 1)[1] for line in reach_ins(planted)] == expected
    assert [line.split(": ", 1)[1] for line in core_writes(planted, fields)] == expected
    # The frame path has a ``self._rendering`` of its own, so the reach-in check takes the schedule's
    # ``_rendering`` for the frame path's; the write check still sees it, and a setattr by name.
    sneaky = source + ("\n\ndef _force(self: FramePath, area: RenderArea) -> None:\n"
                       "    self._core.schedule(area)._rendering = False\n"
                       "    setattr(self._core.outgoing(area.connections[0]), '_needs_key', False)\n")
    assert reach_ins(sneaky) == []
    assert len(core_writes(sneaky, fields)) == 2


REFUSED = (AttributeError, TypeError)
"""How a write is refused: a property without a setter, a missing slot and a frozen field raise AttributeError;
a frozen dataclass with slots raises TypeError (Python 3.11) for a name that is not one of its fields."""


def test_a_public_write_on_any_core_object_fails_at_run_time() -> None:
    schedule = AreaSchedule(still_delay=0.5)
    schedule.render_started()
    with pytest.raises(AttributeError):
        schedule.dirty = True  # type: ignore[misc]  # the planted write: the schedule's request_redraw() says it
    assert not schedule.dirty
    with pytest.raises(AttributeError):
        schedule.drity = True  # type: ignore[attr-defined]  # nor can a field be added (a typo)
    # Every public name of every live core object, property or frozen field, refuses a write.
    tried = 0
    for obj in live_core_objects():
        for name in dir(type(obj)):
            if name.startswith("_") or callable(getattr(obj, name)):
                continue
            with pytest.raises(REFUSED):
                setattr(obj, name, getattr(obj, name))
            tried += 1
        if not isinstance(obj, ServiceCore):  # it keeps a __dict__ (of private fields); the others: slots or frozen
            with pytest.raises(REFUSED):
                obj.planted = 1  # type: ignore[attr-defined]
    assert tried >= 30, tried


def test_mypy_strict_flags_a_public_write_as_read_only() -> None:
    code = ("from remoteviz.pipeline.scheduler import AreaSchedule\n"
            "AreaSchedule(0.5).dirty = True\n")
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 1 and 'Property "dirty" defined in "AreaSchedule" is read-only' in done.stdout, \
        done.stdout + done.stderr

