"""How likely the model finds given tokens: the measure by which candidates are compared.

A prefix-only model infills by proposing candidates and keeping the one after which the text that really
follows the cursor is likeliest (InCoder's likelihood reranking). Backends that can return the logits of every
position of one batch (``Scorer``) score a span in one evaluation; the others go token by token.
"""

from __future__ import annotations

from collections.abc import Sequence

from smallcoder_lsp.backends.base import Scorer
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.sampling import log_prob
from smallcoder_lsp.decode.session import Session

MAX_FOLLOWING_TOKENS = 32


def score_tokens(session: Session, tokens: Sequence[int], cancel: CancelToken | None = None) -> list[float]:
    """Evaluate ``tokens`` after what the session holds; the log-probability of each, given all before it."""
    if not tokens:
        return []
    if session.ahead:
        raise ValueError("scoring follows a prefill, not a decode's drafts")
    if len(session.tokens) + len(tokens) > session.context_length:
        raise ValueError("scoring would overflow the context")
    if cancel is not None:
        cancel.check()
    backend = session.backend
    if isinstance(backend, Scorer):
        scores = backend.score(tokens)
        session.tokens.extend(tokens)
        return scores
    scores = []
    for token in tokens:
        if cancel is not None:
            cancel.check()
        scores.append(log_prob(backend.logits(), token))
        session.append(token)
    return scores


def score_following(
    session: Session, context: Sequence[int], following: Sequence[int], cancel: CancelToken | None = None
) -> float:
    """Sum of the log-probabilities of ``following`` (at most ``MAX_FOLLOWING_TOKENS``) right after ``context``."""
    session.prefill(context, cancel)
    return sum(score_tokens(session, following[:MAX_FOLLOWING_TOKENS], cancel))


def following_text(suffix: str, lines: int = 2) -> str:
    """The rest of the cursor line and the next non-blank lines: what a candidate must lead into."""
    first, _, rest = suffix.partition("\n")
    kept = [line for line in rest.split("\n") if line.strip()][:lines]
    return "\n".join([first, *kept]) if kept else first
