"""The code vocabulary: a Gemma 3 GGUF cut down to the tokens that occur in code, for llama.cpp on a CPU.

Gemma 3 has 262,144 tokens, most of them for natural languages. On a CPU one decoded token of the embedded 270M
model is mostly the output layer: its 262,144 rows (Q8_0, 178 MB, tied to the input embedding) are 72% of the
bytes read per token. The cut keeps the tokens seen in source files of many kinds, every ASCII token among the
100,000 most frequent (the words of the user's own names and comments), every control, byte and single-character
token, and the pieces the tokenizer needs to reach them: 111,857 tokens. Every other tensor is kept byte for byte,
so a token decodes about 1.5 times as fast with the same weights, and code is tokenized as before.

Which tokens are kept is a bitmap over Gemma 3's vocabulary, shipped in ``code_tokens.json`` and made by
``tools/code_vocabulary.py``; the set is closed under the tokenizer's merges, so that text made of kept tokens is
tokenized exactly as the whole vocabulary would. Any GGUF with the same vocabulary (every Gemma 3 size) is cut;
any other model is loaded as it is. Derived files live in the user cache, one per source file (keyed by path,
size and modification time), written to a temporary name first.

Text with a dropped token (a rare word, most non-Latin words) is read as smaller kept pieces, down to single
characters, and the model can no longer write those tokens: what the ``codeVocabulary`` setting trades.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import mmap
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smallcoder_lsp.errors import ModelLoadError
from smallcoder_lsp.models.cache import remove_older, source_key
from smallcoder_lsp.models.files import user_cache_dir

log = logging.getLogger(__name__)

KEPT_FILE = Path(__file__).with_name("code_tokens.json")
TOKENS_KEY = "tokenizer.ggml.tokens"
ALIGNMENT_KEY = "general.alignment"

# GGUF value types (the GGUF spec's numbering) and the struct format of the fixed-size ones.
STRING, ARRAY = 8, 9
SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


@dataclass(frozen=True)
class KeptTokens:
    """Which tokens of one vocabulary to keep."""

    vocabulary_sha256: str
    """Digest of the vocabulary's token strings (see :func:`vocabulary_digest`)."""
    kept: np.ndarray
    """Sorted token ids (stored as a bitmap: bit i says whether token i is kept)."""

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.vocabulary_sha256.encode() + self.kept.tobytes()).hexdigest()[:10]

    def to_json(self, source: str) -> str:
        bits = int(self.kept[-1]) + 1 if len(self.kept) else 0
        bitmap = np.zeros(bits, dtype=bool)
        bitmap[self.kept] = True
        packed = base64.b64encode(zlib.compress(np.packbits(bitmap).tobytes(), 9)).decode()
        body = {"vocabulary_sha256": self.vocabulary_sha256, "bits": bits, "kept": packed, "source": source}
        return json.dumps(body, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> KeptTokens:
        body = json.loads(text)
        bits = np.unpackbits(np.frombuffer(zlib.decompress(base64.b64decode(body["kept"])), dtype=np.uint8))
        kept = np.flatnonzero(bits[: body["bits"]]).astype(np.int64)
        return cls(body["vocabulary_sha256"], kept)


def shipped() -> KeptTokens:
    return KeptTokens.from_json(KEPT_FILE.read_text())


def vocabulary_digest(tokens: list[bytes]) -> str:
    digest = hashlib.sha256()
    for token in tokens:
        digest.update(token + b"\0")
    return digest.hexdigest()


# -- reading a GGUF's layout ----------------------------------------------------------------------------------


@dataclass
class Entry:
    """One key-value pair of the header: its raw bytes (copied as they are unless the cut changes them), its value
    type and, for an array, its element type, its length and (an array of strings) its strings."""

    key: str
    raw: bytes
    vtype: int
    count: int = 1
    element_type: int = -1
    strings: list[bytes] | None = None


@dataclass
class TensorInfo:
    name: str
    dims: list[int]
    ggml_type: int
    offset: int


@dataclass
class Layout:
    version: int
    entries: list[Entry]
    tensors: list[TensorInfo]
    alignment: int
    data_start: int

    @property
    def tokens(self) -> list[bytes]:
        """The vocabulary (empty if the file has none)."""
        entry = next((e for e in self.entries if e.key == TOKENS_KEY), None)
        return (entry.strings or []) if entry is not None else []


class Uncuttable(Exception):
    """The model is not one this module cuts (another vocabulary, an unusual layout): load it whole."""


class Reader:
    """Reads a GGUF header from a memory map (the gguf package takes seconds on a 262k-token vocabulary)."""

    def __init__(self, buf: mmap.mmap) -> None:
        self.buf = buf
        self.pos = 0

    def unpack(self, fmt: str) -> tuple[object, ...]:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.buf):
            raise ValueError("the header runs past the end of the file")
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return values

    def number(self, fmt: str) -> int:
        value = self.unpack(fmt)[0]
        assert isinstance(value, int)
        return value

    def string(self) -> bytes:
        n = self.number("Q")
        if self.pos + n > len(self.buf):
            raise ValueError("a string runs past the end of the file")
        value = self.buf[self.pos : self.pos + n]
        self.pos += n
        return value

    def skip(self, vtype: int) -> None:
        if vtype == STRING:
            self.string()
        elif vtype in SCALARS:
            self.pos += struct.calcsize("<" + SCALARS[vtype])
        else:
            raise ValueError(f"unknown value type {vtype}")


def read_layout(buf: mmap.mmap) -> Layout:
    if buf[:4] != b"GGUF":
        raise ValueError("it is not a GGUF file")
    r = Reader(buf)
    r.pos = 4
    version = r.number("I")
    if version < 2:
        raise ValueError(f"GGUF version {version} is too old")
    n_tensors, n_entries = r.number("Q"), r.number("Q")
    entries, alignment = [], 32
    for _ in range(n_entries):
        start = r.pos
        key = r.string().decode("utf-8")
        vtype = r.number("I")
        entry = Entry(key, b"", vtype)
        if vtype == ARRAY:
            entry.element_type, entry.count = r.number("I"), r.number("Q")
            if entry.element_type == STRING:
                entry.strings = [r.string() for _ in range(entry.count)]
            elif entry.element_type in SCALARS:
                r.pos += entry.count * struct.calcsize("<" + SCALARS[entry.element_type])
            else:
                for _ in range(entry.count):
                    r.skip(entry.element_type)
        else:
            value_at = r.pos
            r.skip(vtype)
            if key == ALIGNMENT_KEY and vtype == 4:
                alignment = struct.unpack_from("<I", buf, value_at)[0]
        entry.raw = buf[start : r.pos]
        entries.append(entry)
    tensors = []
    for _ in range(n_tensors):
        name = r.string().decode("utf-8")
        dims = [r.number("Q") for _ in range(r.number("I"))]
        tensors.append(TensorInfo(name, dims, r.number("I"), r.number("Q")))
    return Layout(version, entries, tensors, alignment, aligned(r.pos, alignment))


def aligned(n: int, alignment: int) -> int:
    return n + (-n % alignment)


def tensor_bytes(info: TensorInfo) -> int:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType(info.ggml_type)]
    except (KeyError, ValueError) as exc:
        raise Uncuttable(f"tensor {info.name} has a type the gguf package does not know ({info.ggml_type})") from exc
    return int(np.prod(info.dims)) // block * size


# -- writing the cut model ------------------------------------------------------------------------------------


def cut(source: Path, target: Path, keep: KeptTokens) -> None:
    """Write ``source`` with only ``keep``'s tokens to ``target``. Raises Uncuttable if the vocabulary differs or
    a tensor holds it other than as rows, ValueError (or struct.error) if ``source`` is cut off or corrupt."""
    with source.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        layout = read_layout(buf)
        n_vocab = len(layout.tokens)
        if vocabulary_digest(layout.tokens) != keep.vocabulary_sha256:
            raise Uncuttable("its vocabulary is not the one the kept tokens were chosen from")
        kept = keep.kept
        new_id = np.full(n_vocab, -1, dtype=np.int64)
        new_id[kept] = np.arange(len(kept))
        with target.open("wb") as out:
            out.write(b"GGUF" + struct.pack("<IQQ", layout.version, len(layout.tensors), len(layout.entries)))
            for entry in layout.entries:
                out.write(cut_entry(entry, n_vocab, kept, new_id))
            offset = 0
            plans = []
            for info in layout.tensors:
                dims = list(info.dims)
                rows = dims[-1] == n_vocab and len(dims) >= 2
                if n_vocab in dims and not rows:
                    raise Uncuttable(f"tensor {info.name} has the vocabulary in a dimension other than its rows")
                if rows:
                    dims[-1] = len(kept)
                name = info.name.encode("utf-8")
                out.write(struct.pack("<Q", len(name)) + name + struct.pack("<I", len(dims)))
                out.write(struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", info.ggml_type, offset))
                size = tensor_bytes(TensorInfo(info.name, dims, info.ggml_type, 0))
                plans.append((info, rows, size))
                offset = aligned(offset + size, layout.alignment)
            out.write(b"\0" * (-out.tell() % layout.alignment))
            for info, rows, size in plans:
                start, end = layout.data_start + info.offset, layout.data_start + info.offset + tensor_bytes(info)
                if end > len(buf):
                    raise ValueError(f"tensor {info.name} runs past the end of the file")
                if rows:
                    data = np.frombuffer(buf[start:end], np.uint8).reshape(n_vocab, -1)
                    out.write(data[kept].tobytes())
                else:
                    out.write(buf[start : start + size])
                out.write(b"\0" * (-size % layout.alignment))


def cut_entry(entry: Entry, n_vocab: int, kept: np.ndarray, new_id: np.ndarray) -> bytes:
    """The entry's bytes in the cut model: a per-token array keeps the kept tokens' elements, a token id is
    renumbered, anything else is copied."""
    key = struct.pack("<Q", len(entry.key.encode())) + entry.key.encode()
    if entry.vtype == ARRAY and entry.count == n_vocab:
        head = key + struct.pack("<IIQ", ARRAY, entry.element_type, len(kept))
        values_at = len(key) + 4 + 4 + 8
        if entry.strings is not None:
            return head + b"".join(struct.pack("<Q", len(entry.strings[i])) + entry.strings[i] for i in kept)
        if entry.element_type in SCALARS:
            dtype = np.dtype("<" + SCALARS[entry.element_type])
            values = np.frombuffer(entry.raw, dtype, n_vocab, values_at)
            return head + values[kept].tobytes()
        raise Uncuttable(f"{entry.key}: cannot cut an array of type {entry.element_type}")
    if entry.key.endswith("_token_id") and entry.vtype in (4, 5):
        old = struct.unpack_from("<" + SCALARS[entry.vtype], entry.raw, len(key) + 4)[0]
        if 0 <= old < n_vocab and new_id[old] >= 0:
            return key + struct.pack("<I", entry.vtype) + struct.pack("<" + SCALARS[entry.vtype], int(new_id[old]))
        raise Uncuttable(f"{entry.key} = {old} is not a kept token")
    return entry.raw


# -- the cache ------------------------------------------------------------------------------------------------


def cache_root() -> Path:
    return user_cache_dir() / "code-vocabulary"


def code_vocabulary_model(source: Path, root: Path | None = None, keep: KeptTokens | None = None) -> Path:
    """The model llama.cpp should load for ``source``: its cut (made once and cached) when ``source`` has the
    kept tokens' vocabulary, else ``source`` itself. A cut that cannot be made is logged, and ``source`` used."""
    try:
        keep = keep or shipped()
    except (OSError, ValueError, KeyError, zlib.error) as exc:
        log.warning(
            "the code vocabulary's token list %s is unreadable (%s); loading the whole vocabulary", KEPT_FILE, exc
        )
        return source
    key = source_key(source, keep.digest)
    folder = root or cache_root()
    target = folder / f"{source.stem}.code-{key}.gguf"
    skip = folder / f"{source.stem}.code-{key}.skip"
    if target.exists():
        return target
    if skip.exists():
        return source
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            cut(source, partial, keep)
        except Uncuttable as exc:  # remembered, so that the next load does not read it again
            log.info("%s: loading the whole vocabulary (%s)", source, exc)
            skip.write_text(f"{exc}\n")
            return source
        except (ValueError, struct.error) as exc:
            raise ModelLoadError(f"{source} is corrupt or truncated ({exc})") from exc
        partial.replace(target)
    except OSError as exc:
        log.warning("cannot write the code-vocabulary model to %s (%s); loading the whole vocabulary", folder, exc)
        return source
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    log.info("%s: cut to the %d tokens of the code vocabulary -> %s", source, len(keep.kept), target)
    remove_older(target, f"{source.stem}.code-")  # an older cut of a file of that name
    return target
