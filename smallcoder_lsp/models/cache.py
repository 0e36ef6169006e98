"""Our folder in the user cache: assembled models, conversions, vocabulary cuts and remembered self-tests."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
from pathlib import Path


def user_cache_dir() -> Path:
    """Our folder in the user cache: ``$SMALLCODER_CACHE``, else ``$XDG_CACHE_HOME/smallcoder-lsp`` or
    ``~/.cache/smallcoder-lsp``."""
    base = os.environ.get("SMALLCODER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "smallcoder-lsp"
    )
    return Path(base)


def source_key(source: Path, *extra: str) -> str:
    """A short key for a file derived from ``source`` as it is now (its path, size and modification time) and from
    ``extra``: a changed source gets a new key, and its derived files are made again."""
    stat = source.stat()
    identity = ":".join([str(source.resolve()), str(stat.st_size), str(stat.st_mtime_ns), *extra])
    return hashlib.sha256(identity.encode()).hexdigest()[:12]


def remove_older(target: Path, prefix: str) -> None:
    """Delete the GGUF files beside ``target`` whose names start with ``prefix``, but ``target``: older forms of a
    derived file, not left to take hundreds of MB."""
    for stale in target.parent.glob(f"{glob.escape(prefix)}*.gguf"):
        if stale != target:
            with contextlib.suppress(OSError):
                stale.unlink()
