from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.decode.rerank import following_logprob, following_text
from smallcoder_lsp.decode.session import Session


def test_following_text_is_the_rest_of_the_line_and_the_next_code_lines():
    assert following_text(")\n\n    return total\n    # done\nprint(1)\n") == ")\n    return total\n    # done"
    assert following_text("") == ""


def test_the_candidate_that_leads_into_the_following_lines_scores_higher():
    backend = FakeBackend({"total = 0\n": "return total"})
    session = Session(backend)
    following = backend.tokenize("return total", add_bos=False)
    good = following_logprob(session, backend.tokenize("total = 0\n", add_bos=True), following)
    bad = following_logprob(session, backend.tokenize("total = 1\n", add_bos=True), following)
    assert good > bad
    assert good > -0.05  # the fake model is nearly sure of every byte


def test_scoring_leaves_the_cache_in_step_with_the_session():
    backend = FakeBackend({"a": "bc"})
    session = Session(backend)
    following_logprob(session, backend.tokenize("a", add_bos=True), backend.tokenize("bc", add_bos=False))
    assert session.tokens == backend.cache
