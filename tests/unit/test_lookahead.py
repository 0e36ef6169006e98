"""Drafted tokens evaluated ahead of the decode: the same text, fewer evaluations."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from smallcoder_lsp.backends.base import Lookahead, Scorer
from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.completion.guard import Abandoned, CallWatch, GuardedBackend
from smallcoder_lsp.decode.lookup import lookup
from smallcoder_lsp.decode.sampling import Sampler
from smallcoder_lsp.decode.scoring import score_tokens
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.decode.states import DocumentStates
from smallcoder_lsp.decode.stopping import StopRules
from smallcoder_lsp.decode.stream import complete


class AheadFake(FakeBackend):
    """The fake model, able to evaluate ahead: ``logits()`` answers for the cache up to the row reached."""

    def __init__(self, replies: dict[str, str]) -> None:
        super().__init__(replies)
        self.beyond = 0
        """Cached tokens past the row whose logits ``logits()`` returns."""

    def evaluate(self, tokens: Sequence[int]) -> None:
        super().evaluate(tokens)
        self.beyond = 0

    def trim(self, n_keep: int) -> None:
        super().trim(n_keep)
        self.beyond = 0

    def evaluate_ahead(self, tokens: Sequence[int]) -> None:
        super().evaluate(tokens)
        self.beyond = len(tokens) - 1

    def step_ahead(self) -> None:
        assert self.beyond > 0, "no evaluated token ahead"
        self.beyond -= 1

    def logits(self) -> npt.NDArray[np.float32]:
        full = self.cache
        self.cache = full[: len(full) - self.beyond]
        try:
            return super().logits()
        finally:
            self.cache = full


def test_lookup_takes_what_followed_the_latest_occurrence_of_the_last_tokens():
    assert lookup([5, 6, 7, 1, 2, 9, 5, 6, 7, 3, 4, 5, 6, 7], 2) == [3, 4]  # the latest of two
    assert lookup([1, 2, 8, 9, 3, 2, 8], 3) == [9, 3, 2]  # three never occurred: two did
    assert lookup([1, 2, 3, 4, 5, 9, 9], 3) == [] and lookup([1, 7, 2, 3, 7], 3) == []  # one token is no clue
    assert lookup([1, 2, 3], 0) == [] and lookup([4, 5, 4, 5], 5) == [4, 5]


@pytest.mark.parametrize("multiline", [False, True])
def test_drafts_give_the_same_text_with_fewer_evaluations(multiline):
    prompt = "a = f(x, y)\nb = f(x, y)\nc = "
    reply = "f(x, y)\nd = f(x, y)\n"
    texts, calls = [], []
    for lookahead in (0, 3):
        backend = AheadFake({prompt: reply})
        session = Session(backend, lookahead=lookahead)
        rules = StopRules(multiline=multiline, indent="", max_tokens=64)
        generation = complete(session, backend.tokenize(prompt, add_bos=True), rules, Sampler())
        texts.append(generation.text)
        calls.append(len(backend.evaluate_calls))
        assert backend.cache == session.tokens and session.position == len(session.tokens) - len(session.ahead)
        if lookahead:
            assert generation.stats.drafts_taken > 0
            assert generation.stats.drafted >= generation.stats.drafts_taken
    assert texts[0] == texts[1] and texts[0].startswith("f(x, y)\n")
    assert calls[1] < calls[0]


def test_a_wrong_draft_is_trimmed_away_and_the_decode_goes_on_from_the_right_token():
    prompt = "ab1ab2a"
    backend = AheadFake({prompt: "b3!"})
    session = Session(backend, lookahead=3)
    generation = complete(session, backend.tokenize(prompt, add_bos=True), StopRules(multiline=False), Sampler())
    assert generation.text == "b3!"  # the draft after "ab" was "2ab": wrong at once
    assert generation.stats.drafted > 0 and generation.stats.drafts_taken == 0
    assert backend.cache == session.tokens


def test_a_single_line_drafts_nothing_after_its_line_break():
    prompt = "x = 1\ny = 2\nx = 1\ny = 2\nx = "
    backend = AheadFake({prompt: "1\n"})
    session = Session(backend, lookahead=8)
    complete(session, backend.tokenize(prompt, add_bos=True), StopRules(multiline=False), Sampler())
    assert b"\n" not in backend.detokenize(session.ahead) and session.drafted < 8


def test_forced_tokens_are_evaluated_in_one_batch_with_their_log_probabilities():
    prompt = "def f():\n    "
    backend = AheadFake({prompt: "return 1\n"})
    session = Session(backend)  # no lookahead: forced tokens are sure drafts all the same
    forced = backend.tokenize("retu", add_bos=False)
    steps: list[tuple[int, float]] = []
    tokens = backend.tokenize(prompt, add_bos=True)
    session.prefill(tokens)
    before = len(backend.evaluate_calls)
    generation = complete(session, tokens, StopRules(multiline=False), Sampler(), forced=forced)
    steps = generation.steps
    assert generation.text == "return 1\n"
    assert backend.evaluate_calls[before + 1] == len(forced)  # the last prompt token again, then one batch
    assert [t for t, _ in steps[: len(forced)]] == forced and all(lp > -1 for _, lp in steps)


def test_the_next_prefill_and_a_document_switch_forget_the_drafts_not_taken():
    backend = AheadFake({"ab": "c"})
    session = Session(backend, lookahead=3)
    session.prefill(backend.tokenize("xyzab", add_bos=True))
    session.take(backend.tokenize("x", add_bos=False)[0], lambda _: backend.tokenize("yz", add_bos=False))
    assert len(session.ahead) == 2 and backend.cache == session.tokens
    with pytest.raises(ValueError, match="prefill"):
        score_tokens(session, backend.tokenize("q", add_bos=False))
    states = DocumentStates(session, budget_mb=1)
    states.switch_to("a")
    assert session.ahead == []
    session.prefill(backend.tokenize("xyzab!", add_bos=True))
    assert backend.cache == session.tokens and session.ahead == []


def test_the_guard_times_the_optional_calls_and_offers_only_those_the_backend_has():
    watch = CallWatch()
    plain = GuardedBackend(FakeBackend(), watch)
    ahead = GuardedBackend(AheadFake({}), watch)
    assert not isinstance(plain, Lookahead) and isinstance(ahead, Lookahead)
    assert not isinstance(plain, Scorer)
    watch.abandoned = True  # a timed call on an abandoned watch unwinds at once
    with pytest.raises(Abandoned):
        ahead.evaluate_ahead([2, 3])
