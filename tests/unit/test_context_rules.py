"""Extraction rules on code shaped like real code (snippets in the style of the standard library)."""

from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.context.extract import MULTI, NONE, SINGLE, extract_context
from smallcoder_lsp.context.languages import PLAIN, grammar_for, language_spec

WRAP = '''import re
import textwrap as _tw
from os import path

class TextWrapper:
    """Object for wrapping/filling text."""

    def __init__(self, width=70):
        self.width = width

    def wrap(self, text):
        """Wrap a single paragraph of text."""
        chunks = self._split(text)
'''


def ctx_at(text: str, marker: str = "<|>", language: str = "python", prefix_chars: int = 4000, others=()):
    offset = text.index(marker)
    doc = Document("file:///w/current.py", language, 1, text.replace(marker, "").encode())
    return extract_context(doc, len(text[:offset].encode()), prefix_chars, 1000, others)


def test_empty_line_after_a_block_opener_is_multiline():
    ctx = ctx_at(WRAP.replace("        chunks = self._split(text)\n", "        <|>\n"))
    assert ctx.mode == MULTI and ctx.indent == "        "


def test_empty_line_continuing_a_block_is_single_line():
    ctx = ctx_at(WRAP + "        <|>\n")
    assert ctx.mode == SINGLE


def test_mid_line_is_single_line():
    ctx = ctx_at(WRAP + "        lines = [<|>\n")
    assert ctx.mode == SINGLE


def test_inside_an_identifier_with_code_to_its_right_is_nothing():
    ctx = ctx_at(WRAP.replace("self._split(text)", "self._sp<|>lit(text)"))
    assert ctx.mode == NONE and "identifier" in ctx.reason


def test_closed_line_end_is_nothing_but_an_open_one_is_completed():
    assert ctx_at(WRAP.replace("self._split(text)", "self._split(text)<|>")).mode == NONE
    assert ctx_at(WRAP.replace("self._split(text)", "self._split(<|>")).mode == SINGLE
    assert ctx_at(WRAP.replace("self._split(text)", "self._spl<|>")).mode == SINGLE


def test_comments_and_docstrings_are_single_line():
    assert ctx_at(WRAP + "        # Split on <|>\n").mode == SINGLE
    ctx = ctx_at(WRAP.replace('"""Wrap a single paragraph of text."""', '"""Wrap a single <|>'))
    assert ctx.mode == SINGLE


def test_scopes_and_imports_go_above_a_window_that_cut_them_off():
    filler = "".join(f"        step_{i} = {i}\n" for i in range(80))
    ctx = ctx_at(WRAP + filler + "        <|>\n", prefix_chars=600)
    kinds = {b.kind: b.text for b in ctx.blocks}
    assert kinds["imports"] == "import re\nimport textwrap as _tw\nfrom os import path"
    scopes = kinds["scopes"]
    assert scopes.startswith('class TextWrapper:\n    """Object for wrapping/filling text."""\n    ...')
    assert '    def wrap(self, text):\n        """Wrap a single paragraph of text."""' in scopes
    assert "__init__" not in scopes  # only the chain that encloses the cursor
    assert not ctx.prefix.startswith("import")


def test_no_blocks_when_the_window_holds_everything():
    ctx = ctx_at(WRAP + "        <|>\n")
    assert [b.kind for b in ctx.blocks] == []


def test_definitions_from_other_open_files_used_near_the_cursor():
    other = Document(
        "file:///w/helpers.py",
        "python",
        1,
        b'def split_words(text, limit=10):\n    """Split text into at most limit words."""\n'
        b"    return text.split()[:limit]\n\ndef unused():\n    pass\n",
    )
    ctx = ctx_at(WRAP + "        words = split_words(<|>\n", others=[other])
    (block,) = [b for b in ctx.blocks if b.kind == "definitions"]
    assert block.text.splitlines() == [
        "# helpers.py",
        "# def split_words(text, limit=10):",
        '#     """Split text into at most limit words."""',
    ]


def test_unknown_language_falls_back_to_plain_text():
    assert language_spec("cobol") is PLAIN and grammar_for("cobol") is None
    ctx = ctx_at("IDENTIFICATION DIVISION.\n    <|>\n", language="cobol")
    assert ctx.mode == MULTI and ctx.blocks == ()


def test_tabs_and_crlf():
    ctx = ctx_at("def f(x):\r\n\tif x:\r\n\t\t<|>\r\n")
    assert ctx.mode == MULTI and ctx.indent == "\t\t" and ctx.line_suffix == ""


def test_file_that_does_not_parse_at_all():
    ctx = ctx_at("def (((:\n  ]] class\n    x = <|>\n")
    assert ctx.mode == SINGLE


def test_deeply_nested_code():
    nested = "".join("    " * i + f"if x{i}:\n" for i in range(60))
    ctx = ctx_at(nested + "    " * 60 + "<|>\n")
    assert ctx.mode == MULTI and len(ctx.indent) == 240
