"""Our folder in the user cache: assembled models, conversions, vocabulary cuts and remembered self-tests."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    """Our folder in the user cache: ``$SMALLCODER_CACHE``, else ``$XDG_CACHE_HOME/smallcoder-lsp`` or
    ``~/.cache/smallcoder-lsp``."""
    base = os.environ.get("SMALLCODER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "smallcoder-lsp"
    )
    return Path(base)
