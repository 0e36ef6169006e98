"""Reading structure off a syntax tree: enclosing scopes, imports, and top-level definitions.

Each returns source text (signatures with their docstrings), ready to be placed above the prompt window.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node, Tree

from smallcoder_lsp.context.languages import LanguageSpec

MAX_DOCSTRING_LINES = 6


@dataclass(frozen=True)
class Definition:
    name: str
    start_byte: int
    text: str
    """Signature (and docstring) as written, at its original indentation."""


def _text(source: bytes, start: int, end: int) -> str:
    return source[start:end].decode("utf-8", "replace")


def _body(node: Node, spec: LanguageSpec) -> Node | None:
    for child in node.named_children:
        if child.type in spec.bodies:
            return child
    return None


def _docstring(body: Node, source: bytes) -> str:
    first = body.named_children[0] if body.named_children else None
    if first is None or first.type != "expression_statement" or not first.named_children:
        return ""
    if first.named_children[0].type != "string":
        return ""
    lines = _text(source, first.start_byte, first.end_byte).split("\n")
    return "\n".join(lines[:MAX_DOCSTRING_LINES])


def signature(node: Node, source: bytes, spec: LanguageSpec) -> str:
    """The scope's header: from its line start to its body (Python: plus the docstring)."""
    line_start = source.rfind(b"\n", 0, node.start_byte) + 1
    body = _body(node, spec)
    if body is None:
        return _text(source, line_start, node.end_byte).split("\n", 1)[0]
    head = _text(source, line_start, body.start_byte).rstrip()
    if spec.blocks == "indent":
        doc = _docstring(body, source)
        indent = " " * (body.start_point[1])
        return f"{head}\n{indent}{doc}" if doc else head
    return head + " {" if not head.endswith("{") else head


def enclosing_scopes(
    tree: Tree, source: bytes, offset: int, spec: LanguageSpec, blank_indent: int | None
) -> list[Node]:
    """Scopes (functions, classes) containing ``offset``, outermost first.

    On a blank line (``blank_indent`` is its indentation) the cursor lies after the tree's last node of the
    block, so the code above it decides, and only scopes that start left of the cursor's column count.
    """
    probe = offset if blank_indent is None else len(source[:offset].rstrip())
    chain: list[Node] = []
    node: Node | None = tree.root_node.descendant_for_byte_range(max(probe - 1, 0), probe)
    while node is not None:
        inside = blank_indent is None or node.start_point[1] < blank_indent
        if node.type in spec.scopes and node.start_byte < offset and inside:
            chain.append(node)
        node = node.parent
    return chain[::-1]


def scope_header(
    tree: Tree, source: bytes, offset: int, window_start: int, spec: LanguageSpec, blank_indent: int | None
) -> str:
    """Signatures of the enclosing scopes that begin above the window, so the model knows where it is."""
    parts = []
    for scope in enclosing_scopes(tree, source, offset, spec, blank_indent):
        if scope.start_byte >= window_start:
            break
        sig = signature(scope, source, spec)
        body = _body(scope, spec)
        if spec.blocks == "indent" and body is not None:
            sig += "\n" + " " * body.start_point[1] + "..."
        parts.append(sig)
    return "\n".join(parts)


def imports_above(tree: Tree, source: bytes, window_start: int, spec: LanguageSpec) -> str:
    """The file's top-level imports that lie above the window."""
    found = [
        _text(source, child.start_byte, child.end_byte)
        for child in tree.root_node.named_children
        if child.type in spec.imports and child.end_byte <= window_start
    ]
    return "\n".join(found)


def _name(node: Node, source: bytes) -> str:
    name = node.child_by_field_name("name")
    if name is None:
        declarator = node.child_by_field_name("declarator")
        while declarator is not None and declarator.child_by_field_name("declarator") is not None:
            declarator = declarator.child_by_field_name("declarator")
        name = declarator
    return _text(source, name.start_byte, name.end_byte) if name is not None else ""


def top_level_definitions(tree: Tree, source: bytes, spec: LanguageSpec) -> list[Definition]:
    """Top-level functions and classes (and, for classes, their methods), with signatures."""
    out: list[Definition] = []
    stack = list(tree.root_node.named_children)
    while stack:
        node = stack.pop(0)
        if node.type == "decorated_definition":
            inner = node.child_by_field_name("definition")
            node = inner if inner is not None else node
        if node.type not in spec.scopes:
            continue
        name = _name(node, source)
        if name:
            out.append(Definition(name, node.start_byte, signature(node, source, spec)))
        body = _body(node, spec)
        if body is not None and node.parent is not None and node.parent.type in ("module", "program", "source_file"):
            stack.extend(c for c in body.named_children if c.type in spec.scopes or c.type == "decorated_definition")
    return out
