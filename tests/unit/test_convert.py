import pytest
from lsprotocol import types

from smallcoder_lsp.completion.engine import Completion
from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.errors import PositionError
from smallcoder_lsp.server import convert

TEXT = "x = '😀é'  # 注释\nprint(x)\n"


def doc() -> Document:
    return Document("file:///t.py", "python", 1, TEXT.encode())


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def test_utf16_positions_count_surrogate_pairs():
    d = doc()
    # "x = '" is 5 units, the emoji 2 more, é 1 more.
    assert d.text[: convert.to_offset(d, pos(0, 7))].decode() == "x = '😀"
    assert d.text[: convert.to_offset(d, pos(0, 8))].decode() == "x = '😀é"
    cjk = TEXT.index("注")
    assert convert.to_offset(d, pos(0, cjk + 1)) == len(TEXT[:cjk].encode())


def test_utf8_and_utf32_encodings():
    d = doc()
    assert convert.to_offset(d, pos(0, len("x = '😀".encode())), convert.UTF8) == len("x = '😀".encode())
    assert convert.to_offset(d, pos(0, 6), convert.UTF32) == len("x = '😀".encode())


def test_round_trip_on_every_character():
    d = doc()
    for line in range(d.line_count):
        text = d.line_text(line).decode()
        for i in range(len(text) + 1):
            units = convert.text_units(text[:i])
            offset = convert.to_offset(d, pos(line, units))
            assert convert.to_position(d, offset) == pos(line, units)


def test_character_past_line_end_means_line_end():
    d = doc()
    assert convert.to_offset(d, pos(1, 999)) == d.line_end(1)


def test_line_past_the_end():
    d = doc()
    with pytest.raises(PositionError):
        convert.to_offset(d, pos(99, 0))
    assert convert.to_offset(d, pos(99, 0), clamp=True) == len(d.text)


def test_inline_item_replaces_the_line_prefix():
    completion = Completion("cci(n - 1)", offset=0, line_prefix="    return fibona")
    result = convert.to_lsp_inline_list(completion, pos(3, 17))
    (item,) = result.items
    assert item.insert_text == "    return fibonacci(n - 1)"
    assert item.range == types.Range(start=pos(3, 0), end=pos(3, 17))


def test_completion_item_is_a_snippet_relative_to_the_cursor_indent():
    completion = Completion("if n < 2:\n        return n\n    return ${x}\\", offset=0, line_prefix="    ")
    result = convert.to_lsp_completion_list(completion, pos(1, 4), convert.UTF16, snippets=True)
    (item,) = result.items
    assert item.insert_text_format == types.InsertTextFormat.Snippet
    assert item.text_edit.new_text == "if n < 2:\n    return n\nreturn \\${x\\}\\\\"
    assert item.text_edit.range == types.Range(start=pos(1, 4), end=pos(1, 4))


def test_completion_item_edit_starts_at_the_word_before_the_cursor():
    completion = Completion("onacci(n - 1)", offset=0, line_prefix="    return fib")
    result = convert.to_lsp_completion_list(completion, pos(2, 14), convert.UTF16, snippets=False)
    (item,) = result.items
    assert item.text_edit.new_text == "fibonacci(n - 1)"
    assert item.text_edit.range.start == pos(2, 11)
    assert item.filter_text == "fibonacci(n - 1)"


def test_empty_completion_gives_no_items():
    assert convert.to_lsp_inline_list(Completion("", 0), pos(0, 0)).items == []
    assert convert.to_lsp_completion_list(Completion("", 0), pos(0, 0), "utf-16", snippets=True).items == []
