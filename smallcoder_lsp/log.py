"""Logging set-up. stdout belongs to JSON-RPC, so logs go to stderr or a file, never stdout."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOGGER_NAME = "smallcoder_lsp"


def setup_logging(level: str = "info", log_file: Path | None = None) -> None:
    handler: logging.Handler
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pygls logs every message at DEBUG/INFO; keep it quiet unless asked for.
    logging.getLogger("pygls").setLevel(max(logging.WARNING, root.level))
