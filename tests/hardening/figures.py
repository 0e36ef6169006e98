"""Figures the hardening tests measure, appended as JSON lines to $SMALLCODER_HARDENING_FIGURES when it is set
(bench/results/hardening.md is written from them); otherwise they are only printed."""

from __future__ import annotations

import json
import os
import time
from typing import Any


def record(name: str, **figures: Any) -> None:
    line = json.dumps({"name": name, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), **figures})
    print(line)
    path = os.environ.get("SMALLCODER_HARDENING_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")
