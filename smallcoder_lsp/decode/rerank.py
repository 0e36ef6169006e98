"""Reranking candidates by the text that follows the cursor: a prefix-only model infills this way.

For each candidate, the model reads prompt + candidate and is scored on how likely it finds the next lines of
the document. A candidate that leads naturally into the code below the cursor wins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.sampling import Sampler
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.decode.stopping import StopRules
from smallcoder_lsp.decode.stream import Generation, complete

TEMPERATURE = 0.8

MAX_FOLLOWING_TOKENS = 32


def log_softmax_at(logits: np.ndarray, token: int) -> float:
    # logits: [vocab]
    x = logits.astype(np.float64)
    top = x.max()
    return float(x[token] - top - np.log(np.exp(x - top).sum()))


def following_logprob(
    session: Session, context: Sequence[int], following: Sequence[int], cancel: CancelToken | None = None
) -> float:
    """Mean log-probability of the ``following`` tokens right after ``context``."""
    following = following[:MAX_FOLLOWING_TOKENS]
    session.prefill(context, cancel)
    total = 0.0
    for i, token in enumerate(following):
        if cancel is not None:
            cancel.check()
        total += log_softmax_at(session.backend.logits(), token)
        if i + 1 < len(following):
            session.append(token)
    return total / max(1, len(following))


def following_text(suffix: str, lines: int = 2) -> str:
    """The rest of the cursor line and the next non-blank lines: what a candidate must lead into."""
    first, _, rest = suffix.partition("\n")
    kept = [line for line in rest.split("\n") if line.strip()][:lines]
    return "\n".join([first, *kept]) if kept else first


def rerank(
    session: Session,
    prompt: list[int],
    rules: StopRules,
    candidates: list[str],
    samples: int,
    following: str,
    finish: Callable[[Generation], str],
    cancel: CancelToken | None = None,
) -> str:
    """Add ``samples`` sampled candidates (each trimmed by ``finish``) to ``candidates``, and return the one
    after which the model finds ``following`` likeliest ("" if there is none)."""
    for seed in range(1, samples + 1):
        text = finish(complete(session, prompt, rules, Sampler(TEMPERATURE, seed=seed), cancel))
        if text and text not in candidates:
            candidates.append(text)
    if len(candidates) < 2 or not following.strip():
        return candidates[0] if candidates else ""
    tokenize = session.backend.tokenize
    following_tokens = tokenize(following, add_bos=False)
    scores = []
    for text in candidates:
        context = prompt + tokenize(text, add_bos=False)
        if len(context) + len(following_tokens) > session.context_length:
            return candidates[0]
        scores.append(following_logprob(session, context, following_tokens, cancel))
    return candidates[max(range(len(candidates)), key=scores.__getitem__)]
