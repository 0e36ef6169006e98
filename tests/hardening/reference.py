"""A reference model of an editor's copy of each document, written from the LSP specification alone.

- Lines end at CR LF, CR or LF.
- Positions count UTF-16 code units (or UTF-8 bytes or code points, when negotiated); a character past the line
  end means the line end; a line past the end means the document end (for an edit). A position inside a
  surrogate pair means the end of that character.
- An inverted range is turned round (as VS Code's TextDocument does).
Text goes over JSON the way it does to the server, so the model holds what the server can hold (two escaped
halves of a surrogate pair arrive as one character; lone ones stay lone).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

LINE_BREAK = re.compile(r"\r\n|\r|\n")


def over_json(text: str) -> str:
    """``text`` as the server reads it from a JSON message."""
    return str(json.loads(json.dumps(text)))


def line_bounds(text: str) -> list[tuple[int, int]]:
    """(start, end before the break) of each line, in code points."""
    bounds, start = [], 0
    for match in LINE_BREAK.finditer(text):
        bounds.append((start, match.start()))
        start = match.end()
    bounds.append((start, len(text)))
    return bounds


def units(ch: str, encoding: str) -> int:
    """How many units of the negotiated position encoding ``ch`` counts for."""
    if encoding == "utf-8":
        return len(ch.encode("utf-8", "surrogatepass"))
    if encoding == "utf-32":
        return 1
    return 2 if ord(ch) > 0xFFFF else 1


@dataclass
class RefDoc:
    version: int
    text: str
    _digest: str | None = field(default=None, repr=False)

    @property
    def digest(self) -> str:
        if self._digest is None:
            self._digest = hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()
        return self._digest

    @property
    def lines(self) -> list[tuple[int, int]]:
        return line_bounds(self.text)

    def index(self, line: int, character: int, encoding: str = "utf-16") -> int:
        bounds = self.lines
        if line >= len(bounds):
            return len(self.text)
        start, end = bounds[line]
        counted, i = 0, start
        while i < end and counted < character:
            counted += units(self.text[i], encoding)
            i += 1
        return i

    def replace(self, rng: dict[str, dict[str, int]] | None, new_text: str, encoding: str = "utf-16") -> None:
        if rng is None:
            self.text = over_json(new_text)
        else:
            a = self.index(rng["start"]["line"], rng["start"]["character"], encoding)
            b = self.index(rng["end"]["line"], rng["end"]["character"], encoding)
            a, b = min(a, b), max(a, b)
            self.text = self.text[:a] + over_json(new_text) + self.text[b:]
        self._digest = None
