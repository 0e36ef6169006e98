"""``smallcoder-lsp convert``: a GGUF model (a rung of the ladder, or the user's file) as a local Hugging Face folder.

The folder (dequantized float32 safetensors, config.json, tokenizer) lets ``mlx`` and ``torch`` run the very
weights the default ``llama_cpp`` backend runs: float32 holds the dequantized values exactly, 16 bits would round
them. Results are cached in the user's cache dir, one folder per source file, and written to a temporary sibling
first so that a half-written folder is never used. On 2 cores a rung converts in about a minute (tiny 64 s, small
57 s, medium 75 s: reading the GGUF's vocabulary is most of it) into 1.1, 2.4 and 6.7 GB.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

from smallcoder_lsp.backends import import_backend_module
from smallcoder_lsp.errors import ModelLoadError
from smallcoder_lsp.models import ladder
from smallcoder_lsp.models.files import check_hf_folder, gguf_architecture, resolve_model_path, user_cache_dir

log = logging.getLogger(__name__)


def cache_root() -> Path:
    return user_cache_dir() / "converted"


def converted_dir(gguf: Path, root: Path | None = None) -> Path:
    """Where the conversion of ``gguf`` lives: named after the file, keyed by its size and modification time."""
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:10]
    return (root or cache_root()) / f"{gguf.stem}-{key}"


def convert(setting: str = "", out: Path | None = None, *, force: bool = False) -> Path:
    """Convert the model of the ``model`` setting (a rung's name, empty for tiny, or a GGUF path); return the
    folder, named after the GGUF file (a rung's file name carries the start of its SHA-256)."""
    gguf = resolve_model_path(setting)
    target = out or converted_dir(gguf)
    if target.exists() and not force:
        try:
            check_hf_folder(target)
            return target
        except ModelLoadError:
            log.warning("%s is incomplete; converting again", target)
    arch = gguf_architecture(gguf)
    converter = import_backend_module("torch", "smallcoder_lsp.backends.hf_convert")
    supported = converter.supported_architectures()  # type: ignore[attr-defined]
    if arch not in supported:
        raise ModelLoadError(f"{gguf}: architecture '{arch}' cannot be converted; supported: {', '.join(supported)}")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    log.warning("converting %s to %s (once)", gguf, target)
    converter.convert_gguf(gguf, partial)  # type: ignore[attr-defined]
    check_hf_folder(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def quantize_for_mlx(folder: Path, bits: int = 4, out: Path | None = None) -> Path:
    """An MLX-quantized copy of a converted folder (for Apple Silicon)."""
    target = out or folder.with_name(f"{folder.name}-mlx-q{bits}")
    if target.exists():
        check_hf_folder(target)
        return target
    mlx = import_backend_module("mlx")
    mlx.quantize_folder(folder, target, bits)  # type: ignore[attr-defined]
    return target


def hf_model_folder(setting: str) -> Path:
    """The folder mlx/torch load for the ``model`` setting: the folder itself, or the (cached) conversion."""
    path = Path(os.path.expanduser(setting)) if setting and not ladder.is_rung(setting) else None
    if path is not None and path.is_dir():
        check_hf_folder(path)
        return path
    return convert(setting)
