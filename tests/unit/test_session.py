import pytest

from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.session import Session, common_prefix_length
from smallcoder_lsp.errors import Cancelled


def test_common_prefix_length():
    assert common_prefix_length([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix_length([], [1]) == 0
    assert common_prefix_length([1, 2], [1, 2, 3]) == 2


def test_one_character_edit_evaluates_only_the_changed_tail():
    backend = FakeBackend()
    session = Session(backend)
    prompt = backend.tokenize("def fibonacci(n):\n    return fib", add_bos=True)
    first = session.prefill(prompt)
    assert first.reused_tokens == 0 and first.evaluated_tokens == len(prompt)

    typed = backend.tokenize("def fibonacci(n):\n    return fibo", add_bos=True)
    before = backend.evaluated_tokens
    second = session.prefill(typed)
    assert backend.evaluated_tokens - before == 1  # the one new byte-token
    assert second.reused_tokens == len(prompt)
    assert backend.cache == typed == session.tokens


def test_an_edit_in_the_middle_trims_back_to_the_common_prefix():
    backend = FakeBackend()
    session = Session(backend)
    session.prefill(backend.tokenize("abcdefgh", add_bos=True))
    stats = session.prefill(backend.tokenize("abcXefgh", add_bos=True))
    assert stats.reused_tokens == 4  # BOS + "abc"
    assert stats.evaluated_tokens == 5
    assert backend.cache == backend.tokenize("abcXefgh", add_bos=True)


def test_identical_prompt_still_evaluates_one_token():
    backend = FakeBackend()
    session = Session(backend)
    prompt = backend.tokenize("same", add_bos=True)
    session.prefill(prompt)
    stats = session.prefill(prompt)
    assert stats.evaluated_tokens == 1 and stats.reused_tokens == len(prompt) - 1
    assert backend.cache == prompt


def test_shorter_prompt_is_a_trim_plus_one_token():
    backend = FakeBackend()
    session = Session(backend)
    session.prefill(backend.tokenize("abcdef", add_bos=True))
    stats = session.prefill(backend.tokenize("abc", add_bos=True))
    assert stats.evaluated_tokens == 1
    assert backend.cache == backend.tokenize("abc", add_bos=True)


def test_cancel_between_chunks_keeps_cache_and_tokens_in_step():
    backend = FakeBackend()
    session = Session(backend, chunk_size=4)
    token = CancelToken()
    calls = 0
    original = backend.evaluate

    def evaluate_then_cancel(tokens):
        nonlocal calls
        calls += 1
        original(tokens)
        if calls == 2:
            token.cancel("newer request")

    backend.evaluate = evaluate_then_cancel  # type: ignore[method-assign]
    with pytest.raises(Cancelled, match="newer request"):
        session.prefill(backend.tokenize("x" * 40, add_bos=True), token)
    assert calls == 2
    assert session.tokens == backend.cache and len(session.tokens) == 8


def test_prompt_longer_than_the_context_is_refused():
    backend = FakeBackend(context_length=8)
    with pytest.raises(ValueError, match="exceeds the context"):
        Session(backend).prefill(list(range(2, 20)))
