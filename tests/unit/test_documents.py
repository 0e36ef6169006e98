import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smallcoder_lsp.context.documents import Document, DocumentStore
from smallcoder_lsp.errors import DocumentError, PositionError


def make(text: str) -> Document:
    return Document("file:///t.py", "python", 1, text.encode())


def test_lines_and_crlf():
    doc = make("a = 1\r\nbb = 2\n\nlast")
    assert doc.line_count == 4
    assert doc.line_text(0) == b"a = 1"
    assert doc.line_text(1) == b"bb = 2"
    assert doc.line_text(2) == b""
    assert doc.line_text(3) == b"last"
    assert doc.line_of(doc.line_start(3) + 2) == 3


def test_a_lone_cr_ends_a_line_as_lsp_says():
    doc = make("a\rb\r\nc\n\rd\r")
    assert [doc.line_text(i) for i in range(doc.line_count)] == [b"a", b"b", b"c", b"", b"d", b""]


def test_an_edit_that_joins_or_splits_a_crlf_pair_moves_the_line_break():
    doc = make("a\r")
    doc.apply_edit(2, 2, b"\nb")  # "a\r" + "\nb": one CR LF break, not two
    assert doc.line_starts == [0, 3]
    doc.apply_edit(1, 2, b"")  # drop the CR: the LF alone is the break
    assert doc.line_starts == [0, 2]
    doc.apply_edit(1, 1, b"\r")
    doc.apply_edit(2, 2, b"x")  # split the pair: two breaks
    assert doc.line_starts == [0, 2, 4]


def test_empty_document_has_one_empty_line():
    doc = make("")
    assert doc.line_count == 1 and doc.line_text(0) == b""


def test_line_outside_is_an_error():
    with pytest.raises(PositionError):
        make("x").line_start(5)


def test_edit_outside_is_an_error_and_changes_nothing():
    doc = make("abc")
    with pytest.raises(PositionError):
        doc.apply_edit(2, 10, b"z")
    assert doc.text == b"abc"


def test_unknown_document():
    with pytest.raises(DocumentError, match="not open"):
        DocumentStore().get("file:///nope.py")


def test_binary_detection():
    assert make("a\x00b").is_binary
    assert not make("ordinary").is_binary


edits = st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(0, 50), st.text(alphabet="ab\n\r\té語😀 ", max_size=12)),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="xy\n\r é😀", max_size=60), edits)
def test_incremental_line_index_equals_a_fresh_one(initial, changes):
    doc = make(initial)
    for pos, length, new in changes:
        start = min(pos, len(doc.text))
        end = min(start + length, len(doc.text))
        doc.apply_edit(start, end, new.encode())
        assert doc.line_starts == Document(doc.uri, "python", 1, doc.text).line_starts


def node_spans(node) -> list[tuple[str, int, int]]:
    spans = [(node.type, node.start_byte, node.end_byte)]
    for child in node.children:
        spans.extend(node_spans(child))
    return spans


def node_points(node) -> list[tuple[object, object]]:
    points = [(node.start_point, node.end_point)]
    for child in node.children:
        points.extend(node_points(child))
    return points


def char_boundary(text: bytes, i: int) -> int:
    while 0 < i < len(text) and (text[i] & 0xC0) == 0x80:
        i -= 1
    return i


PIECES = [
    "def ", "f(x)", ":", "\n", "\r", "    ", "return ", "x", " + 1", "(", ")", "[", "]", "'", '"', "#", "class A",
    "é", "😀",
]  # fmt: skip
python_pieces = st.sampled_from(PIECES)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(python_pieces, max_size=30).map("".join),
    st.lists(
        st.tuples(st.integers(0, 500), st.integers(0, 8), st.lists(python_pieces, max_size=4).map("".join)), max_size=12
    ),
)
def test_incremental_tree_equals_a_fresh_parse(initial, changes):
    doc = make(initial)
    assert doc.tree is not None
    for pos, length, new in changes:
        # Edits come from LSP positions, so they never split a character.
        start = char_boundary(doc.text, min(pos, len(doc.text)))
        end = char_boundary(doc.text, min(start + length, len(doc.text)))
        doc.apply_edit(start, end, new.encode())
        if pos % 3 == 0:  # sometimes parse between edits, sometimes batch several edits
            assert doc.tree is not None
    fresh = Document(doc.uri, "python", 1, doc.text)
    assert node_spans(doc.tree.root_node) == node_spans(fresh.tree.root_node)
    assert node_points(doc.tree.root_node) == node_points(fresh.tree.root_node)


def test_documents_without_a_grammar_have_no_tree():
    doc = Document("file:///notes.txt", "plaintext", 1, b"hello")
    assert doc.tree is None
