"""tree-sitter trees: one per open document, edited incrementally and reparsed on demand; and syntax-error
counting, to check that a completion adds no error."""

from __future__ import annotations

import functools

from tree_sitter import Node, Parser, Point, Tree

from smallcoder_lsp.context.languages import grammar_for, language_spec

# Documents larger than this get no tree: reparsing a multi-megabyte flat file costs hundreds of milliseconds
# per keystroke. They fall back to indentation rules, and completions are still checked on their windows.
MAX_TREE_BYTES = 1_000_000


@functools.cache
def parser_for(language_id: str) -> Parser | None:
    grammar = grammar_for(language_id)
    return Parser(grammar) if grammar is not None else None


class SyntaxTree:
    """A document's tree, kept in step with its edits. ``tree.edit`` is applied at once (cheap); the reparse
    waits until someone asks for the tree."""

    def __init__(self, language_id: str) -> None:
        self.parser = parser_for(language_id)
        self._tree: Tree | None = None
        self._stale = True

    @property
    def available(self) -> bool:
        return self.parser is not None

    @property
    def has_tree(self) -> bool:
        """Whether a tree is kept that edits must be applied to."""
        return self._tree is not None

    def edit(self, start: int, old_end: int, new_end: int, points: tuple[Point, Point, Point]) -> None:
        if self._tree is not None:
            self._tree.edit(start, old_end, new_end, *points)
        self._stale = True

    def tree(self, text: bytes) -> Tree | None:
        if self.parser is None or len(text) > MAX_TREE_BYTES:
            self._tree = None
            return None
        if self._stale or self._tree is None:
            self._tree = self.parser.parse(text, self._tree) if self._tree is not None else self.parser.parse(text)
            self._stale = False
        return self._tree


def error_spans(node: Node) -> list[tuple[int, int]]:
    """Byte spans of the ERROR and MISSING nodes under ``node`` (MISSING ones are empty)."""
    if not node.has_error:
        return []
    spans = [(node.start_byte, node.end_byte)] if node.is_error or node.is_missing else []
    for child in node.children:
        spans.extend(error_spans(child))
    return spans


def adds_errors(language_id: str, before: str, after: str, start: int, end: int) -> bool | None:
    """Whether ``after`` (``before`` with its bytes [start, end) replaced by new text) has a syntax error that
    ``before`` did not: one touching the new text, or one elsewhere that was not there already.

    ``start`` and ``end`` are byte offsets; ``end`` counts in ``after``. None when there is no grammar.
    """
    parser = parser_for(language_id)
    if parser is None:
        return None
    old = before.encode("utf-8", "surrogatepass")
    new = after.encode("utf-8", "surrogatepass")
    delta = len(new) - len(old)
    known = set(error_spans(parser.parse(old).root_node))
    for s, e in error_spans(parser.parse(new).root_node):
        if e <= start:
            moved = (s, e)
        elif s >= end:
            moved = (s - delta, e - delta)
        elif s < start and (s, e - delta) in known:
            continue  # an error that held the cursor before and holds the inserted text now: not a new one
        else:
            return True  # an error in, or across, the inserted text
        if moved not in known:
            return True
    return False


def error_count(language_id: str, source: str) -> int | None:
    """Syntax errors in ``source``, or None when there is no grammar for the language."""
    parser = parser_for(language_id)
    if parser is None:
        return None
    return len(error_spans(parser.parse(source.encode("utf-8", "surrogatepass")).root_node))


def block_probe(language_id: str) -> str:
    return language_spec(language_id).block_probe
