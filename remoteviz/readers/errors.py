"""The one error every reader raises for a file it cannot read, and the size checks made before reading.

A reader checks what a header claims (shape, element size) against the file's own size and the
machine's memory before it allocates anything, so a truncated file or one claiming 10^12 voxels
is refused in one line instead of failing deep inside a library or exhausting the memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


class ReadError(ValueError):
    """A file that cannot be read: missing, of the wrong kind, corrupt, truncated or absurd in size.

    ``str(error)`` is one line naming the file and the problem: ``cannot read PATH: PROBLEM``.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = " ".join(problem.split())  # one line, whatever a library put in its message
        super().__init__(f"cannot read {self.path}: {self.problem}")


def physical_memory() -> int:
    """The machine's memory in bytes (a bound no in-memory read may exceed)."""
    return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))


def _size_text(count: int) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


def check_claimed_size(path: str | os.PathLike[str], shape: Sequence[int], itemsize: int, *,
                       available: int | None = None, what: str = "voxels") -> int:
    """The bytes a header's ``shape`` of ``itemsize``-byte elements claims, refused when absurd.

    ``available`` is what the file (or the part of it after the header) holds when the elements
    are stored uncompressed: claiming more means the file is truncated or the header is wrong.
    Whatever the file holds, a claim beyond the machine's memory is refused too, since reading it
    whole would fail; such data is shown out of core from a converted store.
    """
    if any(int(n) <= 0 for n in shape):
        raise ReadError(path, f"the header claims an empty shape {tuple(int(n) for n in shape)}")
    count = 1
    for n in shape:
        count *= int(n)
    claimed = count * int(itemsize)
    if available is not None and claimed > available:
        raise ReadError(path, f"the header claims {count:,} {what} ({_size_text(claimed)}) but the file "
                              f"holds {_size_text(max(available, 0))}: it is truncated or corrupt")
    if available is None and claimed > physical_memory():
        raise ReadError(path, f"the header claims {count:,} {what} ({_size_text(claimed)}), more than this "
                              f"machine's memory ({_size_text(physical_memory())}): the file is corrupt, or "
                              "too large to read whole (convert it with `remoteviz convert`)")
    return claimed


@contextmanager
def reading(path: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Turn what a format's library raises while reading ``path`` into a :class:`ReadError`.

    Libraries raise many kinds of errors on corrupt input (``ValueError``, ``struct.error``,
    ``EOFError``, their own); each becomes one line saying that the file is not a valid ``what``.
    """
    try:
        yield
    except ReadError:
        raise
    except MemoryError:
        raise ReadError(path, f"not enough memory to read this {what}") from None
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as error:  # a library's reason, whatever its kind, is the user's message
        # (Rust readers' panics, lazrs's among them, are BaseExceptions: pyo3's PanicException.)
        reason = str(error) or type(error).__name__
        raise ReadError(path, f"not a readable {what} ({reason})") from error
