"""Typing sessions: function bodies cut out of real files, to be typed back keystroke by keystroke.

A keystroke inserts one character, except that a line break brings the next line's indentation with it, as an
editor's auto-indent does (the first line's indentation is one keystroke too).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from smallcoder_lsp.bench.corpus import CORPUS_DIR, CorpusError

TYPING_DIR = CORPUS_DIR / "typing"
TYPING_FILES = ("colorsys.py.txt", "bisect.py.txt", "fnmatch.py.txt")
MIN_BODY_CHARS = 40
MAX_BODY_CHARS = 700


@dataclass(frozen=True)
class TypingSession:
    name: str
    """``file:function``."""
    before: str
    """The file text up to the deleted body (the cursor starts here)."""
    body: str
    """The text to retype."""
    after: str
    """The file text after the body."""

    @property
    def keystrokes(self) -> list[str]:
        return split_keystrokes(self.body)


def next_keystroke(body: str, i: int) -> str:
    """The keystroke that types ``body`` from index ``i`` on."""
    if body[i] == "\n" or i == 0:
        j = i + 1 if body[i] == "\n" else i
        while j < len(body) and body[j] in " \t":
            j += 1
        if j > i:
            return body[i:j]
    return body[i]


def split_keystrokes(body: str) -> list[str]:
    keys: list[str] = []
    i = 0
    while i < len(body):
        keys.append(next_keystroke(body, i))
        i += len(keys[-1])
    return keys


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def _body_statements(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    body = node.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        body = body[1:]
    return body


def sessions_from_source(label: str, text: str) -> list[TypingSession]:
    """One session per function (methods included) whose body, after its docstring, has a fitting size."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise CorpusError(f"{label} does not parse: {exc}") from exc
    starts = _line_starts(text)
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        stmts = _body_statements(node)
        if not stmts or stmts[-1].end_lineno is None:
            continue
        start = starts[stmts[0].lineno - 1]
        end = starts[stmts[-1].end_lineno] - 1 if stmts[-1].end_lineno < len(starts) else len(text)
        body = text[start:end]
        if MIN_BODY_CHARS <= len(body) <= MAX_BODY_CHARS:
            out.append(TypingSession(f"{label}:{node.name}", text[:start], body, text[end:]))
    return sorted(out, key=lambda s: len(s.before))


def load_sessions(
    max_keys: int, files: tuple[str, ...] = TYPING_FILES, typing_dir: Path = TYPING_DIR
) -> list[TypingSession]:
    """Sessions from each of ``files``, in file order, that fit an equal share of ``max_keys`` keystrokes."""
    share = max_keys // max(1, len(files))
    chosen: list[TypingSession] = []
    for name in files:
        path = typing_dir / name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CorpusError(f"cannot read {path}: {exc}") from exc
        used = 0
        for session in sessions_from_source(name.removesuffix(".txt"), text):
            keys = len(session.keystrokes)
            if used + keys <= share:
                chosen.append(session)
                used += keys
    return chosen
