"""The generator stack: ``generate_step`` → ``stream`` → ``complete``.

The server and the bench consume the same ``stream`` and read the same :class:`GenerationStats`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial

from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.detokenizer import StreamingDetokenizer
from smallcoder_lsp.decode.healing import best_agreeing, owed
from smallcoder_lsp.decode.lookup import lookup
from smallcoder_lsp.decode.monitor import END, Monitor, pick
from smallcoder_lsp.decode.sampling import Sampler, log_prob
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.decode.stopping import StopRules, stop_reason


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    reused_tokens: int = 0
    evaluated_tokens: int = 0
    prefill_s: float = 0.0
    first_token_s: float | None = None
    """From the start of the request (prefill included) to the first sampled token."""
    generated_tokens: int = 0
    decode_s: float = 0.0
    stop_reason: str = ""
    logprob: float = 0.0
    """Sum of the log-probabilities of the generated tokens (the end token included when it ended them)."""
    candidates: int = 1
    """How many candidates were compared (see completion/candidates.py)."""
    drafted: int = 0
    drafts_taken: int = 0
    """Tokens evaluated ahead as drafts (see :mod:`.lookup`), and how many of them the decode took."""

    @property
    def prefill_tok_s(self) -> float:
        return self.evaluated_tokens / self.prefill_s if self.prefill_s > 0 else 0.0

    @property
    def decode_tok_s(self) -> float:
        return self.generated_tokens / self.decode_s if self.decode_s > 0 else 0.0


@dataclass
class Generation:
    text: str
    stats: GenerationStats = field(default_factory=GenerationStats)
    steps: list[tuple[int, float]] = field(default_factory=list)
    """Each token taken (the end token too) with its log-probability."""
    healed: str = ""
    """The text the first steps wrote again before ``text`` (see :mod:`.healing`)."""


def generate_step(
    session: Session,
    choose: Callable[[], tuple[int, float]],
    cancel: CancelToken | None = None,
    draft: Callable[[int], Sequence[int]] | None = None,
) -> Iterator[tuple[int, float]]:
    """Yield (token, its log-probability) from ``choose`` forever. A token is evaluated only when the consumer
    asks for the next one, so the decode never takes a token that was not kept; ``draft(token)`` may offer
    draft tokens to follow it, evaluated with it (see ``Session.take``)."""
    while True:
        if cancel is not None:
            cancel.check()
        token, logprob = choose()
        yield token, logprob
        if session.position >= session.context_length:
            return
        session.take(token, draft)


def drafts_after(
    session: Session, token: int, forced: Sequence[int], ends: Callable[[int], bool] | None = None
) -> list[int]:
    """Draft tokens to evaluate with ``token`` (see ``Session.take``): the ``forced`` tokens still to come, which
    are sure, then what followed these tokens earlier in the cache (:mod:`.lookup`); none from the first one that
    ``ends`` the generation on."""
    if not session.lookahead and not forced:
        return []
    seen = [*session.tokens[: session.position], token, *forced]
    drafts = [*forced, *lookup(seen, session.lookahead)]
    if ends is not None:
        for i, t in enumerate(drafts):
            if ends(t):
                return drafts[:i]
    return drafts


def stream(
    session: Session,
    prompt: Sequence[int],
    rules: StopRules,
    sampler: Sampler,
    cancel: CancelToken | None = None,
    stats: GenerationStats | None = None,
    monitor: Monitor | None = None,
    forced: Sequence[int] = (),
    record: list[tuple[int, float]] | None = None,
    healed: str = "",
) -> Iterator[str]:
    """Prefill ``prompt`` (reusing the cache) and yield text pieces until a stop rule fires.

    ``monitor`` may veto tokens (see :mod:`.monitor`); ``forced`` tokens are taken first, as they are;
    ``record`` gets each token taken (the end token too) with its log-probability. ``healed`` is text the
    prompt's tokens were backed up by (see :mod:`.healing`): the first tokens write it again, and it is not
    yielded.
    Raises :class:`~smallcoder_lsp.errors.Cancelled` when ``cancel`` is set; ``stats`` is filled in as it goes.
    """
    stats = stats if stats is not None else GenerationStats()
    started = time.perf_counter()
    pre = session.prefill(prompt, cancel)
    stats.prompt_tokens, stats.reused_tokens = pre.prompt_tokens, pre.reused_tokens
    stats.evaluated_tokens, stats.prefill_s = pre.evaluated_tokens, pre.seconds
    backend = session.backend
    eos = backend.info.eos_ids | rules.end_ids
    detok = StreamingDetokenizer()
    pending = list(forced)
    drafted, taken = session.drafted, session.drafts_taken

    def piece_of(token: int) -> str:
        return END if token in eos else backend.detokenize([token]).decode("utf-8", "ignore")

    def shown() -> str:
        return detok.text[len(healed) :]

    def choose() -> tuple[int, float]:
        if pending:
            token = pending.pop(0)
            return token, log_prob(backend.logits(), token)
        due = owed(healed, detok.text)
        if due:
            logits = backend.logits()
            allows = (lambda beyond: monitor.allows("", beyond)) if monitor is not None else (lambda _: True)
            token = best_agreeing(logits, session.vocabulary, due, allows)[0]
            return token, log_prob(logits, token)
        return pick(backend, sampler, monitor, shown(), piece_of)

    decode_start = time.perf_counter()
    stats.stop_reason = "context"
    emitted = 0
    # A line's decode stops at its line break: nothing after one is worth evaluating.
    ends = None if rules.multiline else (lambda token: token in eos or "\n" in piece_of(token))
    draft = partial(drafts_after, session, forced=pending, ends=ends)
    for token, logprob in generate_step(session, choose, cancel, draft):
        if stats.first_token_s is None:
            stats.first_token_s = time.perf_counter() - started
        stats.logprob += logprob
        if record is not None:
            record.append((token, logprob))
        if token in eos:
            stats.stop_reason = "eos"
            break
        stats.generated_tokens += 1
        detok.add(backend.detokenize([token]))
        text = shown()
        stats.decode_s = time.perf_counter() - decode_start
        if len(text) > emitted:
            yield text[emitted:]
            emitted = len(text)
        reason = stop_reason(text, stats.generated_tokens, rules)
        if reason is None and rules.max_seconds is not None and stats.decode_s >= rules.max_seconds:
            reason = "deadline"
        if reason is not None:
            stats.stop_reason = reason
            break
    stats.decode_s = time.perf_counter() - decode_start
    stats.drafted, stats.drafts_taken = session.drafted - drafted, session.drafts_taken - taken


def complete(
    session: Session,
    prompt: Sequence[int],
    rules: StopRules,
    sampler: Sampler,
    cancel: CancelToken | None = None,
    on_text: Callable[[str], None] | None = None,
    monitor: Monitor | None = None,
    forced: Sequence[int] = (),
    healed: str = "",
) -> Generation:
    """Run ``stream`` to its end; ``on_text`` sees the text so far after every piece."""
    stats, steps = GenerationStats(), list[tuple[int, float]]()
    pieces = stream(session, prompt, rules, sampler, cancel, stats, monitor, forced, steps, healed)
    generation = collect(pieces, stats, on_text)
    generation.steps, generation.healed = steps, healed
    return generation


def collect(pieces: Iterator[str], stats: GenerationStats, on_text: Callable[[str], None] | None) -> Generation:
    """Join a stream's pieces into a Generation, telling ``on_text`` the text so far after each one."""
    text = ""
    for piece in pieces:
        text += piece
        if on_text is not None:
            on_text(text)
    return Generation(text=text, stats=stats)
