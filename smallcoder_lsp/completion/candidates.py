"""Candidates, scored by what follows the cursor: how a prefix-only model infills.

The first candidate is the greedy one, decoded under the line's rules (:class:`LineMonitor`). When it is in doubt
(a token of its first line was not a clear choice, or it breaks a soft rule) and the text after the cursor gives
something to judge by, more candidates branch where the doubt is: the next best tokens allowed at the unsure
tokens of its first line (``spread``), each continued greedily. Every candidate is then scored by the model's
likelihood of the candidate and of the lines that follow the cursor (InCoder's reranking), minus the soft-rule
penalties; a candidate that removes a syntax error around the cursor wins a tie. All candidates share the
prompt's KV cache.
Where no comparison is due and the greedy line was trimmed away, alternatives are tried in turn (``rescue``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from smallcoder_lsp.completion.constraints import LineMonitor, penalties
from smallcoder_lsp.context.extract import CompletionContext
from smallcoder_lsp.context.syntax import error_count
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.healing import best_agreeing, owed
from smallcoder_lsp.decode.monitor import TOP_K, top_tokens
from smallcoder_lsp.decode.sampling import Sampler
from smallcoder_lsp.decode.scoring import MAX_FOLLOWING_TOKENS, following_text, score_tokens
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.decode.stopping import StopRules
from smallcoder_lsp.decode.stream import Generation, complete

CLEAR_CHOICE = 0.6
"""A first token at least this likely needs no second opinion."""
RESCUES = 2
"""How many alternatives a trimmed-away greedy line gets when no comparison is due (see ``rescue``)."""
TIE = 0.5
"""Scores closer than this (nats) are a tie; the candidate that leaves fewer syntax errors wins it."""


@dataclass
class Candidate:
    text: str
    """The shown text: trimmed and checked."""
    generation: Generation
    reason: str = ""
    """Why ``text`` is empty, when it is."""
    penalty: float = 0.0
    penalty_reasons: list[str] = field(default_factory=list)
    score: float = 0.0
    """log p(candidate) + log p(what follows | candidate) - penalty, once scored."""
    errors: int = 0
    """Syntax errors in the window after inserting it."""


Finish = Callable[[Generation], tuple[str, str]]
"""A raw generation → its shown text and why that is empty (``runtime.explain``)."""


def candidate_from(generation: Generation, ctx: CompletionContext, finish: Finish) -> Candidate:
    text, reason = finish(generation)
    penalty, why = penalties(text, ctx) if text else (0.0, [])
    return Candidate(text, generation, reason, penalty, why)


def branch_points(session: Session, greedy: Candidate, broken: bool) -> list[int]:
    """Where the greedy candidate's first line was not a clear choice: the tokens in it the model took with a
    probability under ``CLEAR_CHOICE``, in order; or, when none was and it is ``broken`` (it breaks a rule, or
    leaves the syntax error the cursor sits in), its first token that shows something. Tokens that only write
    the healed text again (see :mod:`~smallcoder_lsp.decode.healing`) are no choice the user would see."""
    detokenize, healed = session.backend.detokenize, greedy.generation.healed
    written, first_visible, unsure = "", None, []
    for i, (token, logprob) in enumerate(greedy.generation.steps):
        if "\n" in written[len(healed) :]:
            break
        written += detokenize([token]).decode("utf-8", "ignore")
        if len(written) <= len(healed):
            continue
        if first_visible is None and written[len(healed) :].strip():
            first_visible = i
        if first_visible is not None and math.exp(logprob) < CLEAR_CHOICE:
            unsure.append(i)
    return unsure or ([first_visible] if broken and first_visible is not None else [])


def spread(points: list[int], slots: int) -> dict[int, int]:
    """How many alternatives each branch point gets: the first unsure token up to three (where a line first
    parts from what the code needs, the right one is often second or third there), each later one in line order
    one (a line is often wrong in one later word); slots left over go back to the first."""
    if not points or slots <= 0:
        return {}
    plan = {points[0]: min(3, slots)}
    for at in points[1 : 1 + slots - plan[points[0]]]:
        plan[at] = 1
    plan[points[0]] += slots - sum(plan.values())
    return plan


def alternatives(
    session: Session, prompt: Sequence[int], greedy: Candidate, at: int, ctx: CompletionContext
) -> list[int]:
    """The best tokens the line's rules allow in place of the greedy candidate's token ``at``, best first."""
    taken = [token for token, _ in greedy.generation.steps[:at]]
    session.prefill([*prompt, *taken])
    detokenize, healed = session.backend.detokenize, greedy.generation.healed
    written = detokenize(taken).decode("utf-8", "ignore")
    monitor = LineMonitor(ctx.line_prefix, ctx.demands, ctx.multiline)
    greedy_token = greedy.generation.steps[at][0]
    logits = session.backend.logits()
    due = owed(healed, written)
    if due:
        allows = partial(monitor.allows, "")
        return best_agreeing(logits, session.vocabulary, due, allows, limit=TOP_K, exclude={greedy_token})
    eos = session.backend.info.eos_ids
    shown = written[len(healed) :]
    return [
        t
        for t in top_tokens(logits)
        if t != greedy_token and t not in eos and monitor.allows(shown, detokenize([t]).decode("utf-8", "ignore"))
    ]


def score(session: Session, prompt: Sequence[int], candidate: Candidate, following: str, cancel: CancelToken) -> None:
    """Fill in ``candidate.score``: log p(candidate) + log p(following | candidate) - penalty."""
    tokenize = session.backend.tokenize
    middle = tokenize(candidate.generation.healed + candidate.text, add_bos=False)
    after = tokenize(following, add_bos=False)[:MAX_FOLLOWING_TOKENS]
    after = after[: max(0, session.context_length - len(prompt) - len(middle))]
    session.prefill(prompt, cancel)
    candidate.score = sum(score_tokens(session, middle + after, cancel)) - candidate.penalty


def window_errors(ctx: CompletionContext, text: str) -> int:
    return error_count(ctx.language_id, ctx.frame + ctx.prefix + text + ctx.suffix) or 0


def choose(
    session: Session,
    prompt: Sequence[int],
    ctx: CompletionContext,
    rules: StopRules,
    sampler: Sampler,
    finish: Finish,
    cancel: CancelToken,
    on_text: Callable[[str], None] | None,
    limit: int,
    guided: bool = True,
    healed: str = "",
) -> Candidate:
    """The best of up to ``limit`` candidates (see the module docstring); the greedy one streams to
    ``on_text`` while it is generated. Unless ``guided``, the greedy one is decoded without the line's rules.
    ``prompt`` was backed up by the ``healed`` text (see :mod:`~smallcoder_lsp.decode.healing`)."""
    monitor = LineMonitor(ctx.line_prefix, ctx.demands, ctx.multiline) if guided else None
    generation = complete(session, prompt, rules, sampler, cancel, on_text, monitor, healed=healed)
    greedy = candidate_from(generation, ctx, finish)

    def branch(at: int, token: int) -> Candidate:
        """The candidate that takes the greedy one's first ``at`` tokens, then ``token``, then goes on greedily
        under the line's rules."""
        forced = [*(t for t, _ in greedy.generation.steps[:at]), token]
        monitor = LineMonitor(ctx.line_prefix, ctx.demands, ctx.multiline)
        return candidate_from(
            complete(session, prompt, rules, sampler, cancel, None, monitor, forced, healed), ctx, finish
        )

    following = following_text(ctx.suffix)
    if limit <= 1 or not following.strip():
        if greedy.text or not guided or not greedy.generation.text.strip():
            return greedy
        return rescue(session, prompt, ctx, greedy, branch)
    errors_before = window_errors(ctx, "")
    greedy.errors = window_errors(ctx, greedy.text) if errors_before else 0
    broken = greedy.penalty > 0 or not greedy.text or (errors_before > 0 and greedy.errors >= errors_before)
    points = branch_points(session, greedy, broken)
    if not points:
        return greedy
    candidates = [greedy]
    for at, count in spread(points, limit - 1).items():
        candidates += [branch(at, token) for token in alternatives(session, prompt, greedy, at, ctx)[:count]]
    shown = list({c.text: c for c in reversed(candidates) if c.text}.values())[::-1]
    if len(shown) <= 1:
        return shown[0] if shown else greedy
    for candidate in shown:
        score(session, prompt, candidate, following, cancel)
        candidate.errors = window_errors(ctx, candidate.text)
    best = max(shown, key=lambda c: c.score)
    tied = [c for c in shown if best.score - c.score < TIE]
    winner = min(tied, key=lambda c: (c.errors, -c.score))
    return counted(winner, greedy, len(candidates))


def rescue(
    session: Session,
    prompt: Sequence[int],
    ctx: CompletionContext,
    greedy: Candidate,
    branch: Callable[[int, int], Candidate],
) -> Candidate:
    """When the greedy line was trimmed away (it repeated the code below, or broke the syntax) and no comparison
    is due: up to ``RESCUES`` alternatives, branching where it was in doubt (``branch``), in turn; the first that
    shows something is shown. Something the code around accepts beats nothing at a pause."""
    points = branch_points(session, greedy, broken=True)
    if not points:
        return greedy
    for tried, token in enumerate(alternatives(session, prompt, greedy, points[0], ctx)[:RESCUES], start=2):
        candidate = branch(points[0], token)
        if candidate.text:
            return counted(candidate, greedy, tried)
    return greedy


def counted(chosen: Candidate, greedy: Candidate, tried: int) -> Candidate:
    """``chosen`` with the first decode's timings (the request's) and the count of candidates decoded."""
    stats = dataclasses.replace(greedy.generation.stats, candidates=tried)
    chosen.generation = Generation(chosen.generation.text, stats, healed=greedy.generation.healed)
    return chosen
