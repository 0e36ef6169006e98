"""The function or class around a position, read off the syntax tree: what a docstring for it must describe
(parameters, return value, raised exceptions) and where it goes (the body's start and indentation).

Pure tree reading; Python only (its grammar is the one that is always installed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node, Tree

from smallcoder_lsp.errors import DocstringError

DEFINITIONS = ("function_definition", "class_definition")
# Scopes whose returns and raises belong to someone else.
NESTED_SCOPES = frozenset({"function_definition", "class_definition", "lambda"})
STATIC_DECORATORS = frozenset({"staticmethod"})


@dataclass(frozen=True)
class Param:
    name: str
    """As written, with its stars: ``x``, ``*args``, ``**kwargs``."""
    annotation: str = ""
    default: str = ""
    keyword_only: bool = False


@dataclass(frozen=True)
class DefinitionInfo:
    kind: str
    """``function`` or ``class``."""
    name: str
    params: tuple[Param, ...]
    """Documented parameters: without self/cls and without the bare ``*`` and ``/`` separators."""
    returns: bool
    """The body returns a value (``return expr`` outside nested scopes) and is not annotated ``-> None``."""
    raises: tuple[str, ...]
    """Exception names raised in the body (outside nested scopes), in order, once each."""
    is_async: bool
    start: int
    """Byte offset where the definition starts (its decorators included)."""
    header_end: int
    """Byte offset just after the colon that ends the signature."""
    body_start: int
    one_line: bool
    """The body starts on the signature's line (``def f(): return 1``)."""
    indent: str
    """The body's indentation (for a one-line body: the definition's, plus one level)."""
    source: str = field(repr=False)
    """The definition's text without its docstring, from the start of its first line."""
    docstring: tuple[int, int] | None = None
    """Byte range of an existing docstring literal."""
    return_type: str = ""
    """The return annotation, as written."""
    header: str = ""
    """The signature: from the start of the definition's first line (decorators included) to its colon."""


def _text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def find_definition(tree: Tree, source: bytes, offset: int) -> DefinitionInfo:
    """The innermost function or class enclosing byte ``offset``.

    Raises :class:`DocstringError` (with a message for the user) outside any definition, inside a lambda,
    or when the definition's own text has a syntax error.
    """
    node: Node | None = tree.root_node.descendant_for_byte_range(offset, offset)
    broken = False
    while node is not None and node.type not in DEFINITIONS:
        broken = broken or node.is_error
        if node.type == "lambda":
            raise DocstringError("a lambda cannot have a docstring; turn it into a def first")
        if node.type == "decorated_definition":
            node = node.child_by_field_name("definition")
            break
        node = node.parent
    if node is None or node.type not in DEFINITIONS:
        if broken:
            raise DocstringError("the code around the cursor has a syntax error; fix it first")
        raise DocstringError("the cursor is not inside a function or class")
    return describe(node, source)


def describe(node: Node, source: bytes) -> DefinitionInfo:
    body = node.child_by_field_name("body")
    name = _text(node.child_by_field_name("name"))
    colon = next((c for c in reversed(node.children) if c.type == ":" and body and c.end_byte <= body.start_byte), None)
    if node.has_error or body is None or colon is None or colon.is_missing or not body.named_children:
        raise DocstringError(f"'{name or 'this definition'}' has a syntax error; fix it first")
    start = node.parent.start_byte if node.parent and node.parent.type == "decorated_definition" else node.start_byte
    line_start = source.rfind(b"\n", 0, start) + 1
    def_indent = source[line_start:start].decode("utf-8", "replace")
    one_line = body.start_point[0] == colon.end_point[0]
    if one_line:
        indent = def_indent + ("\t" if "\t" in def_indent else "    ")
    else:
        body_line = source.rfind(b"\n", 0, body.start_byte) + 1
        indent = source[body_line : body.start_byte].decode("utf-8", "replace")
    docstring = _docstring_node(body)
    doc_range = (docstring.start_byte, docstring.end_byte) if docstring is not None else None
    is_class = node.type == "class_definition"
    return DefinitionInfo(
        kind="class" if is_class else "function",
        name=name,
        params=_class_params(body) if is_class else _params(node),
        returns=not is_class and _returns_value(node, body),
        raises=() if is_class else tuple(dict.fromkeys(_raised(body))),
        is_async=any(c.type == "async" for c in node.children),
        start=start,
        header_end=colon.end_byte,
        body_start=body.start_byte,
        one_line=one_line,
        indent=indent,
        source=_without(source[line_start : node.end_byte], docstring, line_start, source),
        docstring=doc_range,
        return_type=_text(node.child_by_field_name("return_type")),
        header=source[line_start : colon.end_byte].decode("utf-8", "replace"),
    )


def _docstring_node(body: Node) -> Node | None:
    first = body.named_children[0]
    if first.type == "expression_statement" and first.named_child_count == 1:
        string = first.named_children[0]
        if string.type in ("string", "concatenated_string"):
            return string
    return None


def _without(text: bytes, docstring: Node | None, base: int, source: bytes) -> str:
    """``text`` (which starts at ``base``) without the docstring's lines."""
    if docstring is None:
        return text.decode("utf-8", "replace")
    first = source.rfind(b"\n", 0, docstring.start_byte) + 1 - base
    last = source.find(b"\n", docstring.end_byte)
    last = len(text) if last == -1 else last + 1 - base
    return (text[:first] + text[last:]).decode("utf-8", "replace")


def _is_method(node: Node) -> bool:
    """Directly in a class body, and not a static method."""
    holder = node.parent
    decorators: list[str] = []
    if holder is not None and holder.type == "decorated_definition":
        decorators = [_text(d).lstrip("@").strip() for d in holder.named_children if d.type == "decorator"]
        holder = holder.parent
    in_class = holder is not None and holder.type == "block" and holder.parent is not None
    in_class = in_class and holder.parent.type == "class_definition"  # type: ignore[union-attr]
    return in_class and not STATIC_DECORATORS.intersection(decorators)


def _params(node: Node) -> tuple[Param, ...]:
    parameters = node.child_by_field_name("parameters")
    out: list[Param] = []
    keyword_only = False
    for p in parameters.named_children if parameters is not None else []:
        if p.type == "keyword_separator":
            keyword_only = True
            continue
        param = _param(p, keyword_only)
        if param is None:
            continue
        if param.name.startswith("*"):
            keyword_only = True  # everything after *args is keyword-only
        out.append(param)
    if out and _is_method(node) and not out[0].name.startswith("*"):
        out = out[1:]  # self or cls
    return tuple(out)


def _param(p: Node, keyword_only: bool) -> Param | None:
    if p.type == "identifier":
        return Param(_text(p), keyword_only=keyword_only)
    if p.type in ("list_splat_pattern", "dictionary_splat_pattern"):
        return Param(_text(p))
    if p.type in ("typed_parameter", "default_parameter", "typed_default_parameter"):
        inner = p.child_by_field_name("name") or (p.named_children[0] if p.named_children else None)
        if inner is None:
            return None
        name = _text(inner)
        return Param(
            name,
            annotation=_text(p.child_by_field_name("type")),
            default=_text(p.child_by_field_name("value")),
            keyword_only=keyword_only and not name.startswith("*"),
        )
    return None  # the "/" separator, comments


def _class_params(body: Node) -> tuple[Param, ...]:
    """A class documents its constructor's parameters."""
    for child in body.named_children:
        inner = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
        is_function = inner is not None and inner.type == "function_definition"
        if is_function and _text(inner.child_by_field_name("name")) == "__init__":  # type: ignore[union-attr]
            return _params(inner)  # type: ignore[arg-type]
    return ()


def _own_statements(node: Node) -> list[Node]:
    """Every node under ``node`` that is not inside a nested function, class or lambda."""
    out: list[Node] = []
    stack = list(node.named_children)
    while stack:
        child = stack.pop()
        if child.type in NESTED_SCOPES or child.type == "decorated_definition":
            continue
        out.append(child)
        stack.extend(child.named_children)
    return out


def _returns_value(node: Node, body: Node) -> bool:
    if _text(node.child_by_field_name("return_type")) == "None":
        return False
    return any(n.type == "return_statement" and n.named_child_count > 0 for n in _own_statements(body))


def _raised(body: Node) -> list[str]:
    found = [n for n in _own_statements(body) if n.type == "raise_statement" and n.named_child_count > 0]
    names = []
    for statement in sorted(found, key=lambda n: n.start_byte):
        exc = statement.named_children[0]
        if exc.type == "call":
            exc = exc.child_by_field_name("function") or exc
        if exc.type in ("identifier", "attribute"):
            name = _text(exc)
            if name[:1].isupper() or "." in name:
                names.append(name)
    return names
