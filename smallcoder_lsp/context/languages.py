"""The language table: LSP ``languageId`` → grammar and the node types context extraction cares about.

Python is first-class (its grammar is a default dependency). The others come with the ``languages`` extra.
A language without a grammar (or whose grammar is not installed) falls back to plain text with indentation
rules instead of failing.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from tree_sitter import Language as TSLanguage


@dataclass(frozen=True)
class LanguageSpec:
    grammar: str
    """Module of the PyPI grammar package."""
    entry: str = "language"
    """Function in that module returning the grammar."""
    comment: str = "//"
    """Line-comment prefix, for context blocks the model should read as comments."""
    blocks: str = "braces"
    """``indent`` (Python) or ``braces``: how a block ends."""
    scopes: frozenset[str] = frozenset()
    """Node types whose signature is kept when the window cuts them off (functions, classes)."""
    bodies: frozenset[str] = frozenset()
    """Node types of those scopes' bodies; the signature is everything before the body."""
    imports: frozenset[str] = frozenset()
    """Top-level node types that bring names in."""
    block_probe: str = ""
    """A statement that may stand as a block body, to accept a completion ending in a block opener."""


_C_LIKE_BODIES = frozenset({"statement_block", "compound_statement", "block", "class_body", "field_declaration_list"})

LANGUAGES: dict[str, LanguageSpec] = {
    "python": LanguageSpec(
        "tree_sitter_python",
        comment="#",
        blocks="indent",
        scopes=frozenset({"function_definition", "class_definition"}),
        bodies=frozenset({"block"}),
        imports=frozenset({"import_statement", "import_from_statement", "future_import_statement"}),
        block_probe="pass",
    ),
    "javascript": LanguageSpec(
        "tree_sitter_javascript",
        scopes=frozenset(
            {"function_declaration", "class_declaration", "method_definition", "generator_function_declaration"}
        ),
        bodies=_C_LIKE_BODIES,
        imports=frozenset({"import_statement"}),
    ),
    "typescript": LanguageSpec(
        "tree_sitter_typescript",
        entry="language_typescript",
        scopes=frozenset({"function_declaration", "class_declaration", "method_definition", "interface_declaration"}),
        bodies=_C_LIKE_BODIES | {"interface_body"},
        imports=frozenset({"import_statement"}),
    ),
    "typescriptreact": LanguageSpec(
        "tree_sitter_typescript",
        entry="language_tsx",
        scopes=frozenset({"function_declaration", "class_declaration", "method_definition"}),
        bodies=_C_LIKE_BODIES,
        imports=frozenset({"import_statement"}),
    ),
    "go": LanguageSpec(
        "tree_sitter_go",
        scopes=frozenset({"function_declaration", "method_declaration"}),
        bodies=_C_LIKE_BODIES,
        imports=frozenset({"import_declaration", "package_clause"}),
    ),
    "rust": LanguageSpec(
        "tree_sitter_rust",
        scopes=frozenset({"function_item", "impl_item", "trait_item", "struct_item", "mod_item"}),
        bodies=_C_LIKE_BODIES | {"declaration_list"},
        imports=frozenset({"use_declaration", "extern_crate_declaration"}),
    ),
    "java": LanguageSpec(
        "tree_sitter_java",
        scopes=frozenset(
            {"class_declaration", "method_declaration", "interface_declaration", "constructor_declaration"}
        ),
        bodies=_C_LIKE_BODIES | {"interface_body", "constructor_body"},
        imports=frozenset({"import_declaration", "package_declaration"}),
    ),
    "c": LanguageSpec(
        "tree_sitter_c",
        scopes=frozenset({"function_definition", "struct_specifier"}),
        bodies=_C_LIKE_BODIES,
        imports=frozenset({"preproc_include"}),
    ),
    "cpp": LanguageSpec(
        "tree_sitter_cpp",
        scopes=frozenset({"function_definition", "class_specifier", "struct_specifier", "namespace_definition"}),
        bodies=_C_LIKE_BODIES | {"declaration_list"},
        imports=frozenset({"preproc_include", "using_declaration"}),
    ),
}  # fmt: skip

PLAIN = LanguageSpec(grammar="", comment="#", blocks="indent")

ALIASES = {"javascriptreact": "javascript", "py": "python", "ts": "typescript", "c++": "cpp", "golang": "go"}


def language_spec(language_id: str) -> LanguageSpec:
    return LANGUAGES.get(ALIASES.get(language_id, language_id), PLAIN)


@functools.cache
def grammar_for(language_id: str) -> TSLanguage | None:
    """The tree-sitter grammar for a language id, or None (unknown language, or its grammar not installed)."""
    spec = language_spec(language_id)
    if not spec.grammar:
        return None
    try:
        module = importlib.import_module(spec.grammar)
    except ImportError:
        return None
    return TSLanguage(getattr(module, spec.entry)())
