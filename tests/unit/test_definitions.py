"""The definition around a position, read off the tree: parameters, returns, raises, placement."""

from __future__ import annotations

import ast

import pytest

from smallcoder_lsp.context.definitions import find_definition
from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.docstring.layout import layout, render
from smallcoder_lsp.docstring.pipeline import placement
from smallcoder_lsp.errors import DocstringError

SRC = '''import os


class Stack:
    def __init__(self, items=None):
        self.items = list(items or [])

    @staticmethod
    async def make(a, b: int = 1, /, *args: str, c, d=2, **kw) -> "Stack":
        key = lambda y: y
        def inner():
            raise KeyError(1)
            return 5
        if a:
            raise ValueError("a")
        raise
        return Stack()

    @property
    def size(self) -> int:
        """How many."""
        return len(self.items)


def one(): return 1
'''


def doc_of(text: str) -> Document:
    return Document("file:///t.py", "python", 1, text.encode())


def at(text: str, needle: str, delta: int = 0):
    doc = doc_of(text)
    assert doc.tree is not None
    return doc, find_definition(doc.tree, doc.text, text.index(needle) + delta)


def test_parameters_come_from_the_tree():
    _, info = at(SRC, "raise ValueError")
    assert info.name == "make" and info.is_async and info.kind == "function"
    assert [p.name for p in info.params] == ["a", "b", "*args", "c", "d", "**kw"]  # staticmethod: no self
    b, c = info.params[1], info.params[3]
    assert (b.annotation, b.default) == ("int", "1") and c.keyword_only
    assert info.returns and info.raises == ("ValueError",)  # not KeyError: that one is in the nested def


def test_methods_drop_self_and_classes_document_their_constructor():
    _, info = at(SRC, "return len")
    assert info.params == () and info.docstring is not None and info.return_type == "int"
    _, cls = at(SRC, "class Stack", 3)
    assert cls.kind == "class" and [p.name for p in cls.params] == ["items"] and not cls.returns


def test_nested_function_and_decorator_line():
    _, info = at(SRC, "return 5")
    assert info.name == "inner" and info.raises == ("KeyError",)
    _, deco = at(SRC, "@property", 2)
    assert deco.name == "size"


@pytest.mark.parametrize(
    ("needle", "message"),
    [("import os", "not inside a function"), ("lambda y", "lambda"), ("y: y", "lambda")],
)
def test_refusals(needle: str, message: str):
    with pytest.raises(DocstringError, match=message):
        at(SRC, needle)


def test_a_syntax_error_in_the_definition_is_refused():
    with pytest.raises(DocstringError, match="syntax error"):
        at("def broken(a, b:\n    return a\n", "return")


def insert(text: str, needle: str, style: str = "google") -> str:
    doc, info = at(text, needle)
    start, end, before, after = placement(doc, info)
    texts = {line.slot: "Words." for line in layout(info, style) if line.slot}
    docstring = render(layout(info, style), texts, info.indent, 88)
    data = doc.text
    return (data[:start] + (before + docstring + after).encode() + data[end:]).decode()


@pytest.mark.parametrize("style", ["google", "numpy", "rest"])
def test_inserted_docstrings_parse_and_name_the_parameters(style: str):
    out = insert(SRC, "raise ValueError", style)
    tree = ast.parse(out)
    make = next(n for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef))
    doc = ast.get_docstring(make) or ""
    for name in ("a", "b", "*args", "c", "d", "**kw", "ValueError"):
        assert name in doc
    assert all(len(line) <= 88 for line in out.splitlines())
    assert out.replace(make_docstring_source(out), "", 1) == SRC


def make_docstring_source(out: str) -> str:
    """The inserted lines: from the line after make's signature to its closing quotes."""
    start = out.index("\n", out.index("async def make")) + 1
    end = out.index('"""', out.index('"""', start) + 3) + 4
    return out[start:end]


def test_one_line_function_gets_its_body_on_a_new_line():
    out = insert(SRC, "def one")
    assert out.endswith('def one():\n    """Words.\n\n    Returns:\n        Words.\n    """\n    return 1\n')
    ast.parse(out)


def test_tabs_are_kept():
    text = "class A:\n\tdef f(self, x):\n\t\treturn x\n"
    out = insert(text, "return x")
    assert '\n\t\t"""Words.\n' in out and "\n\t\t\tx: Words.\n" not in out
    assert ast.get_docstring(ast.parse(out).body[0].body[0])  # type: ignore[attr-defined]


def test_regenerate_replaces_only_the_old_docstring():
    out = insert(SRC, "return len")
    assert '"""How many."""' not in out and out.count("Words.") == 2  # summary + returns
    assert out.replace('"""Words.\n\n        Returns:\n            int: Words.\n        """', '"""How many."""') == SRC
