"""The line-completion set: lines of real third-party code cut at random points, to be completed by the server.

Two kinds of cut, drawn with a fixed seed over the code lines of the source files (not blank lines, comments or
lines of a string or docstring):

- ``mid``: the cursor at a random point inside the line's text (at least one character typed and one left);
  the line's tail after the cursor is removed.
- ``line``: the whole line is removed, but its indentation stays: the cursor sits at the line's indentation on
  an otherwise empty line, as after a line break with auto-indent.

The document given to the server is the whole file with that one change; the expected completion is the
removed rest of the line.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass
from pathlib import Path

from smallcoder_lsp.bench.corpus import CorpusError
from smallcoder_lsp.bench.trace import THIRD_PARTY_FILES, TYPING_DIR, read_corpus_file

MID, LINE = "mid", "line"
LINE_FILES = THIRD_PARTY_FILES
CUT_SEED = 12
FULL_CUTS, QUICK_CUTS = 400, 8
MID_SHARE = 0.5
"""The share of cuts inside a line; the rest are whole lines."""


@dataclass(frozen=True)
class SourceFile:
    name: str
    text: str


@dataclass(frozen=True)
class Cut:
    source: SourceFile
    line: int
    """0-based line number of the cut line."""
    column: int
    """Where the cursor is in that line (characters)."""
    kind: str

    @property
    def name(self) -> str:
        return f"{self.source.name}:{self.line + 1}:{self.column}"

    @property
    def _line_span(self) -> tuple[int, int]:
        text = self.source.text
        start = 0
        for _ in range(self.line):
            start = text.index("\n", start) + 1
        end = text.find("\n", start)
        return start, len(text) if end < 0 else end

    @property
    def cursor(self) -> int:
        """Character offset of the cursor in ``document``."""
        return self._line_span[0] + self.column

    @property
    def document(self) -> str:
        start, end = self._line_span
        return self.source.text[: start + self.column] + self.source.text[end:]

    @property
    def expected(self) -> str:
        """The removed rest of the true line, without trailing whitespace."""
        start, end = self._line_span
        return self.source.text[start + self.column : end].rstrip()


def string_lines(tree: ast.AST) -> set[int]:
    """1-based numbers of lines that are string content: docstrings and string statements, and the inner lines
    of multi-line strings."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Expr, ast.Constant, ast.JoinedStr)):
            continue
        end = node.end_lineno or node.lineno
        if isinstance(node, ast.Expr) and is_string(node.value):
            lines.update(range(node.lineno, end + 1))
        elif is_string(node) and end > node.lineno:
            lines.update(range(node.lineno + 1, end + 1))
    return lines


def is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def code_lines(source: SourceFile) -> list[int]:
    """0-based numbers of the lines a cut may take: code, not blank, not a comment, not string content."""
    try:
        tree = ast.parse(source.text)
    except SyntaxError as exc:
        raise CorpusError(f"{source.name} does not parse: {exc}") from exc
    strings = string_lines(tree)
    lines = source.text.split("\n")
    return [
        i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#") and i + 1 not in strings
    ]


def draw_cut(source: SourceFile, line: int, rng: random.Random) -> Cut:
    text = source.text.split("\n")[line].rstrip()
    indent = len(text) - len(text.lstrip())
    if len(text) - indent >= 2 and rng.random() < MID_SHARE:
        return Cut(source, line, rng.randint(indent + 1, len(text) - 1), MID)
    return Cut(source, line, indent, LINE)


def make_cuts(sources: list[SourceFile], count: int, seed: int = CUT_SEED) -> list[Cut]:
    """``count`` cuts (or fewer, if there are fewer code lines) drawn with ``seed``, in file and line order."""
    rng = random.Random(seed)
    candidates = [(s, line) for s in sources for line in code_lines(s)]
    chosen = sorted(rng.sample(range(len(candidates)), min(count, len(candidates))))
    return [draw_cut(*candidates[i], rng) for i in chosen]


def load_sources(files: tuple[str, ...] = LINE_FILES, typing_dir: Path = TYPING_DIR) -> list[SourceFile]:
    return [SourceFile(name.removesuffix(".txt"), read_corpus_file(name, typing_dir)) for name in files]
