"""Where the simulated user stops typing: at each line start, and now and then after a boundary character.

Editors do not ask again while the user sits still, so what the user sees is decided at these pauses: the request
sent with the last keystroke before a pause either brings ghost text within the pause, or nothing appears.
The pauses are positions in the retyped text, drawn once with a fixed seed, so every server in a run meets the
same ones wherever its accepted suggestions took the cursor.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass

BOUNDARY_CHARS = frozenset("(.,=[: ")
"""After one of these a user often looks up to see what is offered."""


@dataclass(frozen=True)
class PauseModel:
    key_s: float = 0.120
    """Time between keystrokes."""
    pause_s: float = 1.0
    """How long the user stops at a pause."""
    boundary_probability: float = 0.25
    """Chance of a pause after a boundary character (drawn per position, with ``seed``)."""
    seed: int = 11
    reach_s: float = 1.0
    """How long the cursor rests where a session starts before the first key: the user has clicked or moved
    there and takes the hands to the keyboard (the Keystroke-Level Model gives 0.4 s for that alone, and 1.35 s
    more to prepare a new string of typing; we take the pause's length). 0: the first key comes with the opening."""
    rest_s: float = 0.3
    """After this much stillness our editor clients tell the server where the cursor rests (``smallcoder/warm``),
    as the Neovim plugin and the VS Code extension do."""

    def pause_offsets(self, name: str, body: str) -> frozenset[int]:
        """Offsets into ``body`` where typing stops: right after a line break and its indentation (a line
        start), and after boundary characters drawn with ``boundary_probability``. The text up to the offset
        has been typed when the pause begins; the end of the body is never a pause (nothing is left to type)."""
        # One generator per session, seeded by its name, so adding a session leaves the others' pauses alone.
        rng = random.Random(self.seed * 1_000_003 + zlib.crc32(name.encode("utf-8")))
        offsets = set(line_start_offsets(body))
        for i, ch in enumerate(body):
            draw = rng.random()  # drawn at every position, so the draws do not depend on the characters
            if ch in BOUNDARY_CHARS and draw < self.boundary_probability:
                offsets.add(i + 1)
        # Not before whitespace or a line end: the user types the space first, and the line start follows a line end.
        return frozenset(o for o in offsets if 0 < o < len(body) and body[o] not in " \t\n")

    def delay_after(self, typed: int, pauses: frozenset[int]) -> float:
        """Seconds until the next keystroke, once ``typed`` characters of the body are in."""
        return self.pause_s if typed in pauses else self.key_s


def line_start_offsets(body: str) -> list[int]:
    """Where each line's text begins after its indentation (auto-indent types the indentation with the line
    break; the first line's indentation is a keystroke of its own)."""
    starts = []
    for line_start in [0] + [i + 1 for i, ch in enumerate(body) if ch == "\n"]:
        j = line_start
        while j < len(body) and body[j] in " \t":
            j += 1
        if j < len(body) and body[j] != "\n":
            starts.append(j)
    return starts
