"""The fenced code blocks of the project's Markdown documents, for the tests that run them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block: its language, its text, the heading it is under and its first line."""

    language: str
    text: str
    heading: str
    line: int


def code_blocks(path: Path, language: str | None = None) -> list[CodeBlock]:
    """The fenced blocks of ``path`` in order, only those of ``language`` if given."""
    source = path.read_text()
    blocks = []
    for match in _FENCE.finditer(source):
        before = source[:match.start()]
        headings = re.findall(r"^#+ (.+)$", before, re.M)
        block = CodeBlock(match.group(1), match.group(2), headings[-1] if headings else "",
                          before.count("\n") + 1)
        if language is None or block.language == language:
            blocks.append(block)
    return blocks


def block_under(path: Path, heading: str, language: str) -> CodeBlock:
    """The first ``language`` block under ``heading``."""
    found = [b for b in code_blocks(path, language) if b.heading == heading]
    assert found, f"no {language} block under {heading!r} in {path}"
    return found[0]
