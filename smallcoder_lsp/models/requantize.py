"""A rung's weights in the type llama.cpp computes fastest with on a CPU, where that was measured to save the user
more than the file's own type.

A k-quant (Q4_K, Q6_K) packs rows in blocks of 256 values. Small's rows are 896 wide, so its Q4_K_M file holds
most matrices in Q5_0, llama.quantize's fallback, and Q5_0 is slow to compute with on a CPU: every block's fifth
bits are unpacked before the multiply, and llama.cpp has no repacked layout for it. Requantized to IQ4_NL (the same
32-value blocks, 4 bits on a non-linear grid, which llama.cpp repacks for the CPU's vector units), small
prefills 1.2 to 1.7 times and decodes 1.3 to 1.4 times as fast on a 2-core CPU (bare llama.cpp and the typing
replay, several runs). It costs some accuracy: on held-out code its loss per token is 1.6% higher, and its
likeliest next token is the same as the file's in 92% of places. On that CPU the speed is worth more: in the
typing replay it saved 32.8-34.7% of the characters typed against 29.9-31.7% for the file as it is (three sets,
each in one run), and on the automatic line cuts it was exact on 23.5% against 16.5% (``bench/results/README.md``).
The token embedding keeps its own type (it is only looked up), and the output layer stays Q8_0.

Measured per rung, since the trade is the model's: tiny requantized the same way lost far more (3.35 against 3.07
nats per token, 74% the same likeliest token), and medium's Q4_K layers are already repacked. Other rungs, and
the user's own files, run as they are; so does small where the ``requantize`` setting is off.

The requantized file is made once from the verified rung file (3-4 s on 2 cores) by llama.cpp's own
quantizer and kept in the user cache, one per source file (keyed by path, size and modification time), written
to a temporary name first. The mlx and torch backends convert the rung's own weights.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
from pathlib import Path

from smallcoder_lsp.errors import ModelLoadError
from smallcoder_lsp.models.cache import remove_older, source_key
from smallcoder_lsp.models.files import user_cache_dir
from smallcoder_lsp.models.vocabulary import read_layout

log = logging.getLogger(__name__)

FILE_TYPES = {"IQ4_NL": "LLAMA_FTYPE_MOSTLY_IQ4_NL"}
"""The weight types a rung may be requantized to, and llama.cpp's name for a file of that type."""
EMBEDDING = "token_embd.weight"


def cache_root() -> Path:
    return user_cache_dir() / "requantized"


def embedding_type(source: Path) -> int:
    """The ggml type of ``source``'s token embedding. Raises ValueError for a file that is not a readable GGUF."""
    with source.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        layout = read_layout(buf)
    for tensor in layout.tensors:
        if tensor.name == EMBEDDING:
            return tensor.ggml_type
    raise ValueError(f"it has no {EMBEDDING}")


def requantize(source: Path, target: Path, weight_type: str, threads: int) -> None:
    """Write ``source`` with its matrices in ``weight_type`` to ``target`` through llama.cpp's quantizer; the
    token embedding keeps its type. Raises ValueError if llama.cpp cannot (a corrupt source)."""
    from smallcoder_lsp.backends.llama_cpp import quantize_file

    quantize_file(str(source), str(target), FILE_TYPES[weight_type], embedding_type(source), max(1, threads))


def requantized_model(source: Path, weight_type: str, threads: int = 0, root: Path | None = None) -> Path:
    """``source`` requantized to ``weight_type`` (one of FILE_TYPES), made once and cached. Where it cannot be
    written (a full or read-only cache), ``source`` itself, with a warning; a source llama.cpp cannot read raises
    ModelLoadError."""
    if weight_type not in FILE_TYPES:
        raise ValueError(f"cannot requantize to {weight_type}; the types are {', '.join(FILE_TYPES)}")
    folder = root or cache_root()
    stem = f"{source.stem}.{weight_type.lower()}"
    target = folder / f"{stem}-{source_key(source)}.gguf"
    if target.exists():
        return target
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            requantize(source, partial, weight_type, threads or os.cpu_count() or 1)
        except ValueError as exc:
            raise ModelLoadError(f"{source} is corrupt or truncated ({exc})") from exc
        partial.replace(target)
    except OSError as exc:
        log.warning("cannot write %s in %s (%s); loading %s as it is", target.name, folder, exc, source)
        return source
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    log.info("%s: requantized to %s -> %s", source, weight_type, target)
    remove_older(target, f"{stem}-")  # an older form of a file of that name
    return target
