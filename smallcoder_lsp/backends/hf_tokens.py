"""Token ids to bytes and model facts for Hugging Face tokenizers, shared by the ``mlx`` and ``torch`` backends.

The decode stack wants the exact bytes of each token, since a token may end inside a UTF-8 character.
``tokenizer.decode([id])`` returns U+FFFD for such a token, so byte-fallback pieces (``<0xE2>``) and byte-level
BPE pieces (GPT-2's byte-to-unicode alphabet) are mapped back to their bytes here. The tokenizer is duck-typed:
this module imports no runtime.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from smallcoder_lsp.backends.base import END_NAMES, NAMED_SPECIALS, ModelInfo

BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def _byte_level_decoder() -> dict[str, int]:
    # GPT-2's reversible map from bytes to printable characters, inverted.
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


BYTE_DECODER = _byte_level_decoder()


class TokenBytes:
    """Bytes of each token id, computed once per id."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.special_ids = set(tokenizer.all_special_ids)
        self._cache: dict[int, bytes] = {}

    def of(self, token: int) -> bytes:
        cached = self._cache.get(token)
        if cached is None:
            cached = self._cache[token] = self._compute(token)
        return cached

    def _compute(self, token: int) -> bytes:
        if token in self.special_ids:
            return b""
        piece = self.tokenizer.convert_ids_to_tokens(token)
        match = BYTE_PIECE.fullmatch(piece or "")
        if match:
            return bytes([int(match.group(1), 16)])
        text = self.tokenizer.decode([token], skip_special_tokens=True, clean_up_tokenization_spaces=False)
        if "\ufffd" in text and piece and all(c in BYTE_DECODER for c in piece):
            return bytes(BYTE_DECODER[c] for c in piece)
        return str(text).encode("utf-8")

    def join(self, tokens: Sequence[int]) -> bytes:
        return b"".join(self.of(t) for t in tokens)


def hf_tokenize(tokenizer: Any, text: str, add_bos: bool) -> list[int]:
    """Special-token text is parsed as special tokens (HF does that for added tokens by default)."""
    ids = list(tokenizer.encode(text, add_special_tokens=False))
    bos = tokenizer.bos_token_id
    return [bos, *ids] if add_bos and bos is not None else ids


def hf_model_info(tokenizer: Any, config: Any, path: str, context_length: int, vocab_size: int) -> ModelInfo:
    vocab = tokenizer.get_vocab()
    specials = {name: int(vocab[name]) for name in NAMED_SPECIALS if name in vocab}
    eos = config_eos_ids(config) | {i for name, i in specials.items() if name in END_NAMES}
    if tokenizer.eos_token_id is not None:
        eos.add(int(tokenizer.eos_token_id))
    limit = getattr(config, "max_position_embeddings", None) or context_length
    return ModelInfo(
        name=str(getattr(config, "name_or_path", "") or path).rstrip("/").split("/")[-1],
        path=path,
        context_length=min(context_length, int(limit)),
        vocab_size=vocab_size,
        bos_id=tokenizer.bos_token_id,
        eos_ids=frozenset(eos),
        special_tokens=specials,
    )


def config_eos_ids(config: Any) -> set[int]:
    value = getattr(config, "eos_token_id", None)
    if value is None:
        return set()
    return {int(v) for v in value} if isinstance(value, (list, tuple)) else {int(value)}
