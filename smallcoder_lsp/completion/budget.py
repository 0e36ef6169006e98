"""The prompt budget: measured prefill rate and characters per token, and the choice of how much context a
request can afford.

A cold prompt cannot meet a 200 ms first token on a laptop CPU; a warm one beats it tenfold. So the budget
counts only the tokens the KV cache does not hold yet, and it drops extra context blocks (other files, then
imports, then scopes) before it touches the window next to the cursor. When even the bare window does not fit
and finishing it would take longer than ``COLD_WINDOW_S`` (the first key in a file just opened, a jump far away,
a cursor that rested too briefly for its warm-up to finish), an automatic request takes a shorter window: the
longest that prefills within ``COLD_WINDOW_S`` (or, where none does, the shortest there is), so the first line
still shows while the user pauses, where the whole window (about 1,000 tokens: 1.5 s on a 2-core CPU) would miss
the pause. The shorter window has a lane of its own in the saved states (:mod:`smallcoder_lsp.decode.states`), so
a warm-up can prefill it before the key comes, and what the whole window had prefilled stays. Only once per
window: the next requests go back to the whole window (the bare one, unless a richer one is nearly ready), which
the following keystrokes prefill chunk by chunk (each keeps what the one before evaluated), until it is ready. A
shorter window that stayed would cost the model the code further up that it mirrors: measured, it showed more
lines at pauses but fewer right ones.
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
COLD_WINDOW_S = 0.3
"""The longest prefill a cold automatic request takes on when nothing within the first-token budget fits: with
the first line's decode, about 0.35 s to the first suggestion. Measured on 400 cold cuts of third-party code
(``bench/cold_window.py``): 0.4 s gave 27.0% exact first lines, 0.3 s 26.3% (6 cuts right only at 0.4 s, 3 only
at 0.3 s) and 0.25 s 23.0% (20 against 4: a clear loss), at a median of 431, 343 and 283 ms to the first line."""


WHOLE_WINDOW_S = 3.5
"""About the longest the whole window may take to prefill, by the model's self-test: the prefix window is cut to
what the machine prefills in this time (``completion.prefixTokens`` is the most it takes). Until the whole window is
ready, after a file is opened or the cursor jumps, pauses get a short window's line or none. Measured with small
on 2 cores at a self-test prefill of 148 tok/s (``bench/results/``, 2026-12-07): a 512-token window against 1024
showed a line at more pauses and saved more typing, as often right."""
WINDOW_ROUND_TOKENS = 256
"""The fitted window is the nearest multiple of this (at least one): a self-test is noisy (small's gave 148 and 121
tok/s on one machine, the second with tests running beside it), and both should give the same window."""


def fitted_window(prefill_tok_s: float) -> int:
    """The prefix window, in tokens, that prefills in about ``WHOLE_WINDOW_S`` at ``prefill_tok_s``."""
    steps = round(prefill_tok_s * WHOLE_WINDOW_S / WINDOW_ROUND_TOKENS)
    return max(1, steps) * WINDOW_ROUND_TOKENS


@dataclass
class Throughput:
    prefill_tok_s: float = 500.0
    """Exponential moving average of prefill tokens per second (starts at a 2-core CPU's figure)."""
    chars_per_token: float = 3.0
    window_tokens: int | None = None
    """The most tokens of prefix window the loaded model prefills in about ``WHOLE_WINDOW_S``, by its self-test;
    None where it has none (a remote server, a backend not self-tested). Fixed while the model is loaded: a window
    that followed the running average would move its start, and the whole window would be prefilled again."""

    def loaded(self, self_test_prefill_tok_s: float | None) -> None:
        """A model was loaded: its self-test's prefill rate (if any) starts the average and fits the window."""
        if self_test_prefill_tok_s is None:
            self.window_tokens = None
            return
        self.prefill_tok_s = self_test_prefill_tok_s
        self.window_tokens = fitted_window(self_test_prefill_tok_s)

    def prefix_chars(self, setting: int) -> int:
        """The prefix window in characters: ``setting`` tokens (``completion.prefixTokens``), or fewer where the
        model could not prefill them in about ``WHOLE_WINDOW_S``."""
        return self.chars(min(setting, self.window_tokens or setting))

    def observe(self, stats: GenerationStats, prompt_chars: int) -> None:
        if stats.evaluated_tokens >= MIN_MEASURED_TOKENS and stats.prefill_s > 0:
            self.prefill_tok_s = 0.7 * self.prefill_tok_s + 0.3 * stats.prefill_tok_s
        if stats.prompt_tokens >= MIN_MEASURED_TOKENS:
            measured = prompt_chars / stats.prompt_tokens
            # Quantized, so the window sizes derived from it (and with them the prompt start) rarely move.
            self.chars_per_token = max(1.0, round((0.8 * self.chars_per_token + 0.2 * measured) * 4) / 4)

    def chars(self, tokens: int) -> int:
        return int(tokens * self.chars_per_token)


@dataclass(frozen=True)
class PromptChoice:
    blocks: tuple[ContextBlock, ...]
    cut: int
    """Where in the context's prefix the window starts (0: the whole window)."""


def prompt_choices(ctx: CompletionContext) -> list[PromptChoice]:
    """All blocks, then fewer and fewer in ``DROP_ORDER``, then no blocks and shorter and shorter windows."""
    choices = [PromptChoice(ctx.blocks, 0)]
    for kind in DROP_ORDER:
        kept = tuple(b for b in choices[-1].blocks if b.kind != kind)
        if len(kept) < len(choices[-1].blocks):
            choices.append(PromptChoice(kept, 0))
    if choices[-1].blocks:
        choices.append(PromptChoice((), 0))
    return choices + [PromptChoice((), cut) for cut in ctx.cuts]


@dataclass(frozen=True)
class Fit:
    choice: PromptChoice
    tokens: list[int]
    ready: bool
    """The whole window, uncached within the budget or the cold budget: nothing is left to catch up on."""
    healed: str = ""
    """The text token healing took off the end of the prompt's part before the cursor: decoding writes it again
    first (see :mod:`smallcoder_lsp.decode.healing`)."""

    @property
    def short(self) -> bool:
        return self.choice.cut > 0


def fit_prompt(
    ctx: CompletionContext,
    cached: Sequence[int],
    tokenize: Callable[[PromptChoice], list[int]],
    budget_tokens: int | None,
    cold_tokens: int = 0,
    short_cached: Sequence[int] = (),
    may_cut: bool = True,
) -> Fit:
    """The richest prompt whose tail beyond ``cached`` fits ``budget_tokens`` (None: no budget, the whole
    prompt); else the richest whose tail fits ``cold_tokens`` (finishing a warm-up costs less than starting over);
    else, where ``may_cut``, the longest shorter window whose tail beyond ``short_cached`` fits ``cold_tokens``, or
    the shortest there is when none does (the whole window would take seconds); else the bare window, the
    cheapest to catch up on (going on with a warm-up's part of a richer prompt instead was measured: the typing
    replay saved 24.4% of the characters against 26.3%)."""
    choices = prompt_choices(ctx)
    if budget_tokens is None:
        return Fit(choices[0], tokenize(choices[0]), True)
    whole = []  # tokenized one by one: a warm cache fits the first choice, and a keystroke needs no other
    for choice in (c for c in choices if not c.cut):
        tokens = tokenize(choice)
        uncached = len(tokens) - common_prefix_length(cached, tokens)
        if uncached <= budget_tokens:
            return Fit(choice, tokens, True)
        whole.append((uncached, choice, tokens))
    for uncached, choice, tokens in whole:
        if uncached <= cold_tokens:
            return Fit(choice, tokens, True)
    cuts = [(choice, tokenize(choice)) for choice in choices if choice.cut]
    if may_cut and cuts:
        for choice, tokens in cuts:
            if len(tokens) - common_prefix_length(short_cached, tokens) <= cold_tokens:
                return Fit(choice, tokens, False)
        return Fit(*cuts[-1], False)
    _, choice, tokens = whole[-1]
    return Fit(choice, tokens, False)
