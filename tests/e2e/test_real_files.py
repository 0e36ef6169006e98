"""Completions inside real Python files (the interpreter's own standard library, not written for this test):
every non-empty inline completion, once inserted, adds no syntax error to the file."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import pytest
import tree_sitter_python
from pytest_lsp import LanguageClient
from tree_sitter import Language, Parser

from tests.e2e.helpers import apply_inline, end_of, inline, open_doc

FILES = ["textwrap.py", "shlex.py", "fnmatch.py", "colorsys.py"]
POSITIONS_PER_FILE = 5
PARSER = Parser(Language(tree_sitter_python.language()))


def errors(source: str) -> int:
    def count(node) -> int:
        if not node.has_error:
            return 0
        return int(node.is_error or node.is_missing) + sum(count(c) for c in node.children)

    return count(PARSER.parse(source.encode()).root_node)


def cursor_cases(text: str, rng: random.Random) -> list[tuple[str, str]]:
    """(text before the cursor, text after it): a line cut in the middle, as if the user were typing it."""
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if len(line.strip()) > 12 and not line.lstrip().startswith("#")]
    cases = []
    for i in sorted(rng.sample(candidates, POSITIONS_PER_FILE)):
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        cut = rng.randrange(indent, len(line) - 4)
        before = "\n".join([*lines[:i], line[:cut]])
        after = "\n" + "\n".join(lines[i + 1 :])
        cases.append((before, after))
    return cases


@pytest.mark.parametrize("client", ["vscode"], indirect=True)
async def test_completions_in_real_files_add_no_syntax_error(client: LanguageClient):
    rng = random.Random(20261123)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    shown = total = 0
    for name in FILES:
        for before, after in cursor_cases((stdlib / name).read_text(), rng):
            uri = open_doc(client, before + after, name=f"real-{total}-{name}")
            result = await inline(client, uri, end_of(before, client.position_encoding))
            total += 1
            if not result.items:
                continue
            shown += 1
            new_text = apply_inline(before + after, result.items[0], client.position_encoding)
            assert errors(new_text) <= errors(before + after), (name, result.items[0].insert_text)
    assert total == len(FILES) * POSITIONS_PER_FILE
    assert shown >= total // 3, f"only {shown} of {total} positions got a completion"
