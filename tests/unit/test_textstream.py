"""The text stream of a generator (remote server) obeys the same stop rules, and cancelling closes it."""

from collections.abc import Callable, Iterator

import pytest

from smallcoder_lsp.backends.base import ModelInfo, TextRequest
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.stopping import StopRules
from smallcoder_lsp.decode.textstream import complete_text, stream_text
from smallcoder_lsp.errors import Cancelled


class ScriptedGenerator:
    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.info = ModelInfo("scripted", "", 0, 0, None, frozenset())
        self.sent = 0
        self.closed = False
        self.requests: list[TextRequest] = []

    def generate(self, request: TextRequest, cancelled: Callable[[], bool]) -> Iterator[str]:
        self.requests.append(request)
        try:
            for piece in self.pieces:
                if cancelled():
                    return
                self.sent += 1
                yield piece
        finally:
            self.closed = True

    def close(self) -> None:
        pass


def test_single_line_stops_at_the_line_end_and_closes_the_stream():
    gen = ScriptedGenerator(["return", " n", "\n", "more", "\n"])
    result = complete_text(gen, "def f(n):\n    ", StopRules(multiline=False, max_tokens=10))
    assert result.text == "return n\n" and result.stats.stop_reason == "line_end"
    assert gen.closed and gen.sent == 3
    assert gen.requests[0].stop == ("\n",) and gen.requests[0].max_tokens == 10


def test_cancellation_mid_stream_raises_and_closes():
    gen = ScriptedGenerator(["a"] * 50)
    cancel = CancelToken()
    stream = stream_text(gen, "p", StopRules(multiline=True, max_tokens=100), cancel=cancel)
    next(stream)
    cancel.cancel("superseded")
    with pytest.raises(Cancelled):
        list(stream)
    assert gen.closed and gen.sent < 5
