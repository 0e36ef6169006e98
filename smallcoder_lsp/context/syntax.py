"""tree-sitter parsing of a text window, to check that a completion adds no syntax error."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from tree_sitter import Language, Node, Parser


@dataclass(frozen=True)
class Grammar:
    module: str
    """PyPI grammar package exposing ``language()``."""
    block_probe: str = ""
    """A statement that may stand as a block body, used to accept a completion ending in a block opener."""


GRAMMARS: dict[str, Grammar] = {
    "python": Grammar("tree_sitter_python", block_probe="pass"),
}


@functools.cache
def parser_for(language_id: str) -> Parser | None:
    grammar = GRAMMARS.get(language_id)
    if grammar is None:
        return None
    try:
        module = importlib.import_module(grammar.module)
    except ImportError:
        return None
    return Parser(Language(module.language()))


def count_errors(node: Node) -> int:
    """ERROR and MISSING nodes under ``node``, visiting only subtrees that contain one."""
    if not node.has_error:
        return 0
    count = 1 if node.is_error or node.is_missing else 0
    return count + sum(count_errors(child) for child in node.children)


def error_count(language_id: str, source: str) -> int | None:
    """Syntax errors in ``source``, or None when there is no grammar for the language."""
    parser = parser_for(language_id)
    if parser is None:
        return None
    return count_errors(parser.parse(source.encode("utf-8", "surrogatepass")).root_node)


def block_probe(language_id: str) -> str:
    grammar = GRAMMARS.get(language_id)
    return grammar.block_probe if grammar else ""
