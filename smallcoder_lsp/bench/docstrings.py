"""The docstring category through the docstring command: does the edited file parse, and does the docstring
name every parameter?

A docstring task's prompt ends inside the function's docstring. Here the function, completed with the task's
reference solution, is sent without its docstring, and the server's ``smallcoder.generateDocstring`` command is
asked for one at the ``def`` line.
"""

from __future__ import annotations

import ast
from typing import Any

from smallcoder_lsp.bench.corpus import Task
from smallcoder_lsp.bench.lsp_client import LspClient
from smallcoder_lsp.context.syntax import error_count

COMMAND = "smallcoder.generateDocstring"
CATEGORY = "docstring_generation"


def _last_function(source: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    functions = [n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return functions[-1] if functions else None


def undocumented_source(task: Task) -> str:
    """The task's function (with its reference solution) without its docstring."""
    full = task.prompt + task.solution + task.suffix
    function = _last_function(full)
    if function is None or ast.get_docstring(function) is None:
        return full
    first = function.body[0]
    lines = full.split("\n")
    del lines[first.lineno - 1 : first.end_lineno]
    return "\n".join(lines)


def parameters(source: str) -> list[str]:
    """Parameter names of the last function in ``source`` (self and cls left out)."""
    function = _last_function(source)
    if function is None:
        return []
    args = function.args
    names = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return [n for n in names if n not in ("self", "cls")]


def apply_edit(source: str, edit: dict[str, Any]) -> str:
    """Apply a WorkspaceEdit with one TextDocumentEdit (positions in UTF-16 units; the corpus is ASCII)."""
    lines = source.split("\n")
    for change in edit.get("documentChanges", []):
        for text_edit in change["edits"]:
            start, end = text_edit["range"]["start"], text_edit["range"]["end"]
            before = "\n".join([*lines[: start["line"]], lines[start["line"]][: start["character"]]])
            after = "\n".join([lines[end["line"]][end["character"] :], *lines[end["line"] + 1 :]])
            lines = (before + text_edit["newText"] + after).split("\n")
    return "\n".join(lines)


async def document_task(client: LspClient, task: Task, uri: str) -> tuple[bool | None, float | None, str]:
    """(the edited file parses, fraction of parameters the docstring names, why not) for one task."""
    source = undocumented_source(task)
    def_line = max(i for i, line in enumerate(source.split("\n")) if line.lstrip().startswith(("def ", "async def ")))
    client.open(uri, source)
    position = {"line": def_line, "character": len(source.split("\n")[def_line])}
    try:
        result = await client.request(
            "workspace/executeCommand", {"command": COMMAND, "arguments": [{"uri": uri, "position": position}]}
        )
    except RuntimeError as exc:  # the server refused, with a message
        return None, None, str(exc)
    finally:
        client.close_document(uri)
    if not isinstance(result, dict) or "edit" not in result:
        return None, None, f"no edit in the command's answer: {result!r}"
    edited = apply_edit(source, result["edit"])
    names = parameters(source)
    docstring = str(result.get("docstring", ""))
    covered = sum(1 for n in names if n.lstrip("*") in docstring) / len(names) if names else 1.0
    return error_count("python", edited) == 0, covered, ""
