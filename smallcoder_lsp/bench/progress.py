"""A progress bar on stderr: redrawn in place on a terminal, a line per quarter otherwise (CI logs)."""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.label, self.total, self.width = label, max(1, total), width
        self.stream = stream or sys.stderr
        self.done = 0
        self._last_quarter = -1
        self.tty = self.stream.isatty()

    def tick(self, note: str = "") -> None:
        self.done = min(self.total, self.done + 1)
        share = self.done / self.total
        if self.tty:
            bar = "#" * round(share * self.width)
            self.stream.write(f"\r{self.label:<22} [{bar:<{self.width}}] {self.done}/{self.total} {note[:30]:<30}")
            if self.done == self.total:
                self.stream.write("\n")
        elif int(share * 4) > self._last_quarter:
            self._last_quarter = int(share * 4)
            self.stream.write(f"{self.label}: {self.done}/{self.total}\n")
        self.stream.flush()

    def finish(self, message: str) -> None:
        if self.tty and self.done < self.total:
            self.stream.write("\n")
        self.stream.write(f"{self.label}: {message}\n")
        self.stream.flush()
