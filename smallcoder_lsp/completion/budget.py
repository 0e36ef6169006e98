"""The prompt budget: measured prefill rate and characters per token, and the choice of how much extra
context a request can afford.

A cold prompt cannot meet a 200 ms first token on a laptop CPU; a warm one beats it tenfold. So the budget
counts only the tokens the KV cache does not hold yet, and it drops extra context blocks (other files, then
imports, then scopes) before it would ever shorten the window next to the cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from smallcoder_lsp.context.extract import CompletionContext, ContextBlock
from smallcoder_lsp.decode.session import common_prefix_length
from smallcoder_lsp.decode.stream import GenerationStats

DROP_ORDER = ("definitions", "imports", "scopes")
MIN_MEASURED_TOKENS = 32
"""Prefills shorter than this say more about overhead than about throughput."""


@dataclass
class Throughput:
    prefill_tok_s: float = 500.0
    """Exponential moving average of prefill tokens per second (starts at a 2-core CPU's figure)."""
    chars_per_token: float = 3.0

    def observe(self, stats: GenerationStats, prompt_chars: int) -> None:
        if stats.evaluated_tokens >= MIN_MEASURED_TOKENS and stats.prefill_s > 0:
            self.prefill_tok_s = 0.7 * self.prefill_tok_s + 0.3 * stats.prefill_tok_s
        if stats.prompt_tokens >= MIN_MEASURED_TOKENS:
            measured = prompt_chars / stats.prompt_tokens
            # Quantized, so the window sizes derived from it (and with them the prompt start) rarely move.
            self.chars_per_token = max(1.0, round((0.8 * self.chars_per_token + 0.2 * measured) * 4) / 4)

    def chars(self, tokens: int) -> int:
        return int(tokens * self.chars_per_token)


def block_choices(blocks: Sequence[ContextBlock]) -> list[list[ContextBlock]]:
    """All blocks, then fewer and fewer in ``DROP_ORDER``, ending with none."""
    choices = [list(blocks)]
    for kind in DROP_ORDER:
        kept = [b for b in choices[-1] if b.kind != kind]
        if len(kept) < len(choices[-1]):
            choices.append(kept)
    return choices


def fit_blocks(
    ctx: CompletionContext,
    cached: Sequence[int],
    tokenize: Callable[[Sequence[ContextBlock]], list[int]],
    budget_tokens: int | None,
) -> list[int]:
    """Tokens of the richest prompt whose uncached tail fits ``budget_tokens`` (None: no budget)."""
    choices = block_choices(ctx.blocks)
    tokens: list[int] = []
    for blocks in choices:
        tokens = tokenize(blocks)
        if budget_tokens is None or len(tokens) - common_prefix_length(cached, tokens) <= budget_tokens:
            return tokens
    return tokens
