"""Token healing: a prompt that ends inside a word, or on a space, is backed up to the word's start.

Typed text ends wherever the cursor is, and that is rarely where the model's tokenizer would cut: ``impor``
tokenizes as ``im`` + ``por`` where ``import`` is one token, and ``x = `` ends on a lone space where the model
always saw ``x =`` + `` foo``. Continuing after such a tail, the model rarely writes ``t`` or ``foo``: it saw
those tokens in other places. So the tokens that hold the tail are taken off the prompt, and decoding must
write that text again first, as whichever tokens the model likes best (``import``, `` foo``); the shown text
starts after it. Guidance calls this token healing.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from smallcoder_lsp.backends.base import Backend

SCAN = 32
"""How many of the best agreeing tokens a monitor may look at before it gives way."""
MAX_TOKENS = 4
"""At most this many tokens are taken off the prompt's end."""
TAIL = re.compile(r"(?:(?:(?<=\S) )?[A-Za-z0-9_]+|(?<=\S)[ \t]+)\Z")
"""What is healed: a word the cursor ends (with the one space before it), or the spaces after some code. Not
the indentation at a line start where the tokenizer cuts it where the model saw it cut (see ``INDENT_TAIL``)."""
INDENT_TAIL = re.compile(r"(?:(?:(?<=\S) )?[A-Za-z0-9_]+|(?<=\S)[ \t]+|(?<=\n)[ \t]+)\Z")
"""``TAIL``, and also the indentation at a line start: for a tokenizer that cuts indentation otherwise when code
follows it (see ``splits_indentation``)."""


@dataclass(frozen=True)
class Healed:
    tokens: list[int]
    """The prompt without the tokens that held the tail."""
    text: str = ""
    """The text those tokens held, which decoding writes again before anything is shown."""


class Vocabulary:
    """The text of every token, sorted, to find the tokens that agree with some text."""

    def __init__(self, backend: Backend, excluded: Collection[int] = ()) -> None:
        pieces = []
        for token in range(backend.info.vocab_size):
            if token in excluded:
                continue
            piece = backend.detokenize([token])
            try:
                text = piece.decode("utf-8")
            except UnicodeDecodeError:
                continue  # a part of a character: never needed to spell ASCII text
            if text:
                pieces.append((text, token))
        pieces.sort()
        self._texts = [text for text, _ in pieces]
        self._tokens = np.array([token for _, token in pieces], dtype=np.int64)
        self._blank = np.array([text.isspace() for text, _ in pieces], dtype=bool)
        self._by_text = {text: token for text, token in reversed(pieces)}
        self._text_of = {token: text for text, token in pieces}

    def text(self, token: int) -> str:
        return self._text_of.get(token, "")

    def agreeing(self, owed: str) -> npt.NDArray[np.int64]:
        """The tokens whose text starts with ``owed``, or is a start of it (``owed`` must not be empty).

        Owed whitespace (an indentation, the space after ``x =``) must be finished by a token that also writes
        what follows it: a tokenizer that leaves the last space to the next word (a line break, 7 spaces,
        `` return``) never showed the model code after a token that ends in the owed space, and from there it
        writes spaces until its limit. A vocabulary with no other way to go on keeps its blank ones."""
        lo = bisect.bisect_left(self._texts, owed)
        hi = bisect.bisect_left(self._texts, owed + "\U0010ffff")
        longer = self._tokens[lo:hi]
        shorter = [self._by_text[owed[:i]] for i in range(1, len(owed)) if owed[:i] in self._by_text]
        if owed.isspace():
            written = ~self._blank[lo:hi]
            if shorter or written.any():
                longer = longer[written]
        return np.concatenate([longer, np.array(shorter, dtype=np.int64)])


def splits_indentation(backend: Backend) -> bool:
    """Whether ``backend``'s tokenizer cuts a line's indentation otherwise when code follows it: GPT-2-style
    tokenizers (Qwen, StarCoder) write ``\n    return`` as ``\n``, three spaces, `` return``, so a prompt that
    ends in four spaces ends in a token the model rarely saw there."""
    bare = backend.tokenize("x = 1\n    ", add_bos=False)
    full = backend.tokenize("x = 1\n    return", add_bos=False)
    return full[: len(bare)] != bare


def heal(backend: Backend, tokens: Sequence[int], protected: int = 1, *, indent: bool = False) -> Healed:
    """Take the tail (see ``TAIL``; ``indent``: ``INDENT_TAIL``) off the end of ``tokens``, whole tokens at a
    time, keeping the first ``protected`` (the BOS token, or the prompt's first: a prompt is never empty).
    Nothing is taken when the tail is not there or a token of it holds a line break."""
    window = list(tokens[max(protected, len(tokens) - MAX_TOKENS) :])
    texts = [backend.detokenize([t]).decode("utf-8", "replace") for t in window]
    match = (INDENT_TAIL if indent else TAIL).search("".join(texts))
    if match is None:
        return Healed(list(tokens))
    need, taken = len(match.group()), ""
    kept = len(tokens)
    for text in reversed(texts):
        if len(taken) >= need or "\n" in text or "\ufffd" in text:
            break
        taken = text + taken
        kept -= 1
    if not taken:
        return Healed(list(tokens))
    return Healed(list(tokens[:kept]), taken)


def owed(healed_text: str, written: str) -> str:
    """What of the healed text the generation has still to write, given what it has ``written``."""
    return healed_text[len(written) :] if len(written) < len(healed_text) else ""


def best_agreeing(
    logits: npt.NDArray[np.float32],
    vocabulary: Vocabulary,
    owed_text: str,
    allows: Callable[[str], bool],
    limit: int = 1,
    exclude: Collection[int] = (),
) -> list[int]:
    """Up to ``limit`` tokens that agree with ``owed_text`` and whose text beyond it ``allows`` accepts, best
    first, from the ``SCAN`` best that agree; when ``allows`` takes none of those, the best that agrees."""
    # logits: [vocab]
    agreeing = vocabulary.agreeing(owed_text)
    agreeing = agreeing[~np.isin(agreeing, list(exclude))] if exclude else agreeing
    if agreeing.size == 0:
        return []
    k = min(SCAN, agreeing.size)
    top = agreeing[np.argpartition(-logits[agreeing], k - 1)[:k]]
    ranked = [int(t) for t in top[np.argsort(-logits[top], kind="stable")]]
    out = []
    for token in ranked:
        beyond = vocabulary.text(token)[len(owed_text) :]
        if not beyond or allows(beyond):
            out.append(token)
            if len(out) == limit:
                break
    return out or ranked[:1]
