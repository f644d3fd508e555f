"""Typed node fields: assigning one checks the value and tells the node it changed.

A field is declared on a node class like a dataclass field::

    class Material(Node):
        diffuse_color = Field((0.8, 0.8, 0.8), as_color)

Reading ``material.diffuse_color`` gives the converted value; assigning it converts the new value
(raising ``ValueError`` or ``TypeError`` when it does not fit) and calls ``node.touch()``, which is
how a render area learns that it must draw a new frame. A field declared with ``appearance=True``
(a colour map, a value range) changes how a shape looks but not what it draws: assigning it calls
``node.touch_appearance()`` instead, which redraws without rebuilding or uploading the geometry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar, overload

T = TypeVar("T")

Color = tuple[float, float, float]


class FieldOwner(Protocol):
    """What a field tells the node it is declared on (a :class:`~remoteviz.rendering.nodes.Node`)."""

    def touch(self) -> None:
        """The node changed."""

    def touch_appearance(self) -> None:
        """The node's look changed, its geometry did not."""


class Field(Generic[T]):
    """A node attribute whose assignment is converted and notifies the node's observers."""

    def __init__(self, default: Any, convert: Callable[[Any], T], doc: str = "", *, appearance: bool = False) -> None:
        self._convert = convert
        self._appearance = appearance
        self._default = convert(default)
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, node: None, owner: type) -> Field[T]: ...

    @overload
    def __get__(self, node: FieldOwner, owner: type) -> T: ...

    def __get__(self, node: FieldOwner | None, owner: type) -> T | Field[T]:
        if node is None:
            return self
        value: T = node.__dict__.get(self.name, self._default)
        return value

    def __set__(self, node: FieldOwner, value: Any) -> None:
        node.__dict__[self.name] = self._convert(value)
        if self._appearance:
            node.touch_appearance()
        else:
            node.touch()


def as_float(value: Any) -> float:
    """A finite float."""
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"expected a finite number, got {value!r}")
    return result


def as_positive_float(value: Any) -> float:
    """A finite float greater than zero."""
    result = as_float(value)
    if result <= 0.0:
        raise ValueError(f"expected a number greater than 0, got {value!r}")
    return result


def as_unit_float(value: Any) -> float:
    """A float from 0 to 1 inclusive."""
    result = as_float(value)
    if not 0.0 <= result <= 1.0:
        raise ValueError(f"expected a number from 0 to 1, got {value!r}")
    return result


def as_color(value: Iterable[float]) -> Color:
    """An RGB colour: three floats from 0 to 1."""
    items = tuple(as_unit_float(v) for v in value)
    if len(items) != 3:
        raise ValueError(f"expected an (r, g, b) colour with components from 0 to 1, got {value!r}")
    return (items[0], items[1], items[2])


def as_bool(value: Any) -> bool:
    """A bool; other types are refused rather than guessed at."""
    if not isinstance(value, bool):
        raise TypeError(f"expected True or False, got {value!r}")
    return value
