import pytest

from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.sampling import Sampler
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.decode.stopping import StopRules, stop_reason
from smallcoder_lsp.decode.stream import complete, stream
from smallcoder_lsp.errors import Cancelled

PROMPT = "def f(n):\n    "


def run(reply: str, rules: StopRules, cancel: CancelToken | None = None):
    backend = FakeBackend({PROMPT: reply})
    session = Session(backend)
    return complete(session, backend.tokenize(PROMPT, add_bos=True), rules, Sampler(), cancel), backend


def test_single_line_stops_at_line_end():
    gen, _ = run("return n\n    pass", StopRules(multiline=False))
    assert gen.text == "return n\n" and gen.stats.stop_reason == "line_end"


def test_multi_line_stops_at_dedent_below_the_block():
    gen, _ = run("if n:\n        return 1\n    return 2\nprint(f(3))\n", StopRules(multiline=True, indent="    "))
    assert gen.stats.stop_reason == "dedent"
    assert gen.text.startswith("if n:\n        return 1\n    return 2\n")


def test_eos_and_max_tokens():
    gen, _ = run("ok", StopRules(multiline=False))
    assert gen.text == "ok" and gen.stats.stop_reason == "eos"
    gen, _ = run("abcdefghij", StopRules(multiline=False, max_tokens=3))
    assert gen.text == "abc" and gen.stats.stop_reason == "max_tokens"


def test_cache_holds_only_kept_tokens_and_stats_add_up():
    gen, backend = run("abc", StopRules(multiline=False))
    assert backend.detokenize(backend.cache) == (PROMPT + "abc").encode()
    assert gen.stats.generated_tokens == 3
    assert gen.stats.evaluated_tokens == gen.stats.prompt_tokens
    assert gen.stats.first_token_s is not None


def test_cancel_between_tokens():
    token = CancelToken()
    backend = FakeBackend({PROMPT: "abcdefgh"})
    session = Session(backend)
    pieces = stream(session, backend.tokenize(PROMPT, add_bos=True), StopRules(multiline=False), Sampler(), token)
    assert next(pieces) == "a"
    token.cancel("superseded")
    with pytest.raises(Cancelled):
        next(pieces)


def test_deadline_returns_what_is_ready():
    gen, _ = run("abcdef", StopRules(multiline=False, max_seconds=0.0))
    assert gen.text == "a" and gen.stats.stop_reason == "deadline"


def test_multibyte_characters_split_across_tokens_come_out_whole():
    gen, _ = run("é😀", StopRules(multiline=False))
    assert gen.text == "é😀"


def test_stop_rules_blank_line_at_top_level():
    rules = StopRules(multiline=True, indent="")
    assert stop_reason("x = 1\n\ny", 3, rules) == "blank_line"
    assert stop_reason("x = 1\ny = 2\n", 3, rules) is None
    assert stop_reason("a\nb\nc\n", 3, StopRules(multiline=True, max_lines=2)) == "max_lines"
