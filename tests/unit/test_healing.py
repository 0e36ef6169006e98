"""Token healing: a prompt that ends inside a word or on a space is backed up, and decoding writes it again."""

from collections.abc import Sequence

import numpy as np

from smallcoder_lsp.backends.base import ModelInfo
from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.decode.healing import Vocabulary, heal, splits_indentation
from smallcoder_lsp.decode.sampling import Sampler
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.decode.stopping import StopRules
from smallcoder_lsp.decode.stream import complete

BOS, EOS = 0, 1
PIECES = ["<bos>", "<eos>", "\n", "    ", "im", "por", "port", "import", " os", "x", " =", " ", " 1", "1", "p", "o"]
NEXT = {"\n": "import", "import": " os", "im": "port", "port": " os", " os": "\n", "x": " =", " =": " 1"}
"""The model: the token it is sure of after each token. It saw ``import`` and ``x = 1`` tokenized one way only:
after ``por`` or a lone space it knows nothing."""


class WordBackend(FakeBackend):
    """Tokens are words; tokenizing takes the longest piece at each point, as real tokenizers mostly do. The
    cache bookkeeping is FakeBackend's."""

    def __init__(self) -> None:
        super().__init__()
        self.info = ModelInfo("words", "", 256, len(PIECES), BOS, frozenset({EOS}))

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        out = [BOS] if add_bos else []
        while text:
            piece = max((p for p in PIECES[2:] if text.startswith(p)), key=len)
            out.append(PIECES.index(piece))
            text = text[len(piece) :]
        return out

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        return "".join(PIECES[t] for t in tokens if t > EOS).encode()

    def logits(self):
        out = np.zeros(len(PIECES), dtype=np.float32)
        sure = NEXT.get(PIECES[self.cache[-1]])
        out[PIECES.index(sure) if sure else EOS] = 10.0
        return out


def suggest(text: str, healing: bool) -> str:
    backend = WordBackend()
    tokens = backend.tokenize(text, add_bos=True)
    healed = heal(backend, tokens) if healing else None
    session = Session(backend)
    prompt, again = (healed.tokens, healed.text) if healed else (tokens, "")
    rules = StopRules(multiline=False, indent="", max_tokens=8, max_lines=1)
    return complete(session, prompt, rules, Sampler(), healed=again).text.split("\n")[0]


def test_a_word_cut_where_the_tokenizer_would_not_cut_it_is_written_again_and_continued():
    assert suggest("\nimpor", healing=False) == ""  # after "im" + "por" the model knows nothing
    assert suggest("\nimpor", healing=True) == "t os"  # "im" + "port", then " os"


def test_a_trailing_space_is_written_again_with_the_word_after_it():
    assert suggest("x = ", healing=False) == ""
    assert suggest("x = ", healing=True) == "1"


def test_indentation_and_line_breaks_are_not_backed_up():
    backend = WordBackend()
    for text in ("import os\n", "import os\n    ", "x =", "x = 1\n"):
        tokens = backend.tokenize(text, add_bos=True)
        assert heal(backend, tokens).tokens == tokens, text
    tokens = backend.tokenize("\n    x", add_bos=True)
    healed = heal(backend, tokens)
    assert (healed.tokens, healed.text) == (tokens[:-1], "x")  # the word, not the indentation before it


def test_the_prompt_keeps_its_first_token():
    backend = WordBackend()
    tokens = backend.tokenize("impor", add_bos=False)
    assert heal(backend, tokens).tokens == tokens[:1]


def test_the_vocabulary_finds_the_tokens_that_agree_with_a_text():
    vocabulary = Vocabulary(WordBackend(), excluded={EOS})
    agreeing = {PIECES[t] for t in vocabulary.agreeing("por")}
    assert agreeing == {"por", "port", "p"}  # longer ones that start with it, and ones it starts with
    assert "<eos>" not in {PIECES[t] for t in vocabulary.agreeing("<")}


def test_owed_whitespace_is_finished_only_by_a_token_that_writes_what_follows_it():
    # Qwen writes "\n        if" as "\n", 7 spaces, " if": a token that ends on the owed indentation (or goes
    # on with more spaces) left the model writing spaces until its limit.
    vocabulary = Vocabulary(WordBackend(), excluded={EOS})
    assert {PIECES[t] for t in vocabulary.agreeing(" ")} == {" os", " =", " 1"}
    assert {PIECES[t] for t in vocabulary.agreeing("    ")} == {" "}  # a start of it, never all of it


def test_for_a_tokenizer_that_cuts_indentation_otherwise_the_indentation_is_backed_up_too():
    backend = WordBackend()
    tokens = backend.tokenize("import os\n    ", add_bos=True)
    healed = heal(backend, tokens, indent=True)
    assert (healed.tokens, healed.text) == (tokens[:-1], "    ")  # the line break stays; the model indents
    assert heal(backend, backend.tokenize("\n    x", add_bos=True), indent=True).text == "x"


class TrailingIndentBackend(FakeBackend):
    """Bytes, except that indentation ending the text is one token of its own: as GPT-2-style tokenizers cut
    ``\n    `` at the end of a text, where before code they cut three spaces and `` return``."""

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        if text.endswith("\n    "):
            return [*super().tokenize(text[:-4], add_bos=add_bos), 257]
        return super().tokenize(text, add_bos=add_bos)


def test_whether_a_tokenizer_cuts_indentation_otherwise_is_measured_not_assumed():
    assert not splits_indentation(FakeBackend())
    assert splits_indentation(TrailingIndentBackend())


def test_owed_whitespace_with_nothing_else_to_finish_it_keeps_the_blank_token():
    backend = FakeBackend()  # bytes as tokens: the only token that agrees with a lone space is that space
    vocabulary = Vocabulary(backend, excluded=set())
    assert [vocabulary.text(t) for t in vocabulary.agreeing(" ")] == [" "]
