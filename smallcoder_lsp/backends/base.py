"""The small Protocols every runtime implements.

A local backend owns one KV cache. It appends tokens to it (``evaluate``), trims it back to a prefix (``trim``),
exposes the next-token logits, and can snapshot and restore the cache (``save_state`` / ``load_state``) so that
each open document keeps its own warm state. Prefix reuse, sampling, stopping and cancellation live above it in
:mod:`smallcoder_lsp.decode`, written once for all backends.

A backend may also choose the next token itself, where its logits live (:class:`SamplesOnDevice`): then only the
token id crosses to the host. The decode stack prefers that path when a backend offers it.

A remote server has no KV cache we can reach. It is a :class:`Generator` instead: text in, text pieces out,
stopped by closing the stream. The engine applies the same stop rules to its pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

# Special tokens worth knowing by name: FIM markers and end-of-generation markers.
NAMED_SPECIALS = (
    "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>",
    "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>", "<file_sep>",
    "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>",
    "<PRE>", "<SUF>", "<MID>", "<EOT>",
    "<end_of_turn>", "<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|file_separator|>",
)  # fmt: skip

# Of those, the ones that end a generation: llama.cpp's end-of-generation set, which holds the FIM padding, repository
# and file-separator tokens too, so that every runtime stops a Qwen2.5-Coder middle where llama.cpp does.
END_NAMES = frozenset({
    "<end_of_turn>", "<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<EOT>",
    "<|fim_pad|>", "<fim_pad>", "<|repo_name|>", "<|file_sep|>",
})  # fmt: skip


@dataclass(frozen=True)
class ModelSpec:
    path: str
    """Model file or folder (a server's base URL for the remote backend)."""
    context_length: int = 4096
    threads: int = 0
    """0: the backend chooses (llama.cpp: the cores that other programs leave free, see ``free_cores``)."""
    timeout_s: float = 10.0
    """How long a remote server may stay silent before we give up on it."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: str
    context_length: int
    vocab_size: int
    bos_id: int | None
    """The token ``tokenize(add_bos=True)`` puts first; None for a model that takes none (Qwen2.5)."""
    eos_ids: frozenset[int]
    """Tokens that end generation (end of sequence, end of turn)."""
    special_tokens: dict[str, int] = field(default_factory=dict)
    """Named special tokens found in the vocabulary, FIM tokens among them."""
    chat_template: str = ""
    """The chat template (Jinja text) of a model tuned to answer in it; empty for a base model, even one whose
    file carries a template."""


@dataclass(frozen=True)
class SavedState:
    """A snapshot of a backend's KV cache; what ``payload`` holds is the backend's business."""

    n_tokens: int
    nbytes: int
    payload: Any


class Backend(Protocol):
    info: ModelInfo

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        """Text to token ids; special-token text is parsed as special tokens."""

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        """Token ids to UTF-8 bytes (a token may end inside a character)."""

    @property
    def n_cached(self) -> int:
        """How many tokens the KV cache holds."""

    def trim(self, n_keep: int) -> None:
        """Drop every cached token after the first ``n_keep``."""

    def evaluate(self, tokens: Sequence[int]) -> None:
        """Append ``tokens`` to the KV cache and compute the logits after the last one."""

    def logits(self) -> npt.NDArray[np.float32]:
        """Next-token logits after the last evaluated token, shape [vocab] (after ``evaluate_ahead``: after the
        token the decode has reached, see :class:`Lookahead`)."""

    def save_state(self) -> SavedState:
        """Snapshot the KV cache; the cache itself is left as it is."""

    def load_state(self, state: SavedState) -> None:
        """Make the KV cache hold ``state``. The logits are undefined until the next ``evaluate``."""

    def close(self) -> None:
        """Free the model."""


@runtime_checkable
class Scorer(Protocol):
    """A backend that can return the logits of every position of one evaluation (optional)."""

    def score(self, tokens: Sequence[int]) -> list[float]:
        """Evaluate ``tokens`` (appending them to the KV cache) and return the log-probability of each, given
        everything before it; the first one is scored by the logits of the last evaluation."""


@runtime_checkable
class Lookahead(Protocol):
    """A backend that can evaluate tokens ahead of the decode (optional): a batch of draft tokens (guesses at the next
    ones) costs little more than one token, and the logits after each tell which of them the decode would take.
    """

    def evaluate_ahead(self, tokens: Sequence[int]) -> None:
        """Append ``tokens`` to the KV cache, keeping the logits after each: ``logits()`` is then the logits after
        the first of them, until ``step_ahead``. ``evaluate`` and ``trim`` end the lookahead."""

    def step_ahead(self) -> None:
        """Make ``logits()`` the logits after the next token of the last ``evaluate_ahead``."""


@runtime_checkable
class Interruptible(Protocol):
    """A backend whose evaluation another thread can stop part-way (optional): a prefill chunk that nobody will
    continue then gives the worker back in milliseconds instead of the chunk's whole time."""

    def interrupt(self) -> None:
        """Stop the ``evaluate`` running now, from any thread: it raises :class:`~smallcoder_lsp.errors.Cancelled`
        and the KV cache holds what it held before it. With no evaluation running it does nothing."""


@dataclass(frozen=True)
class SampleRequest:
    """How to choose one token, for a backend that samples where its logits are."""

    temperature: float
    """0 or less: greedy (the first of the highest logits)."""
    top_k: int
    top_p: float
    draw: float
    """A uniform number in [0, 1) from the caller's generator: the one random input, so that both paths agree."""
    banned: Set[int] = frozenset()
    """Token ids that must not be chosen at this step."""


@runtime_checkable
class SamplesOnDevice(Protocol):
    """A backend that samples its own current logits (on a GPU: no logits copy to the host per token)."""

    def sample(self, request: SampleRequest) -> tuple[int, float]:
        """The next token after the last evaluated one, chosen as ``decode.sampling.Sampler`` would choose it, and
        its log-probability under the untempered, unbanned logits (both read back in one host sync)."""


@dataclass(frozen=True)
class TextRequest:
    prompt: str
    max_tokens: int
    temperature: float = 0.0
    stop: tuple[str, ...] = ()


@runtime_checkable
class Generator(Protocol):
    """A runtime that only streams text (a remote server): no tokens, no KV cache on our side."""

    info: ModelInfo

    def generate(self, request: TextRequest, cancelled: Callable[[], bool]) -> Iterator[str]:
        """Yield text pieces; stop (and drop the connection) as soon as ``cancelled()`` is true
        or the consumer closes the iterator."""

    def close(self) -> None:
        """Release connections."""
