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
STDLIB, THIRD_PARTY = "stdlib", "third-party"
STDLIB_FILES = ("colorsys.py.txt", "bisect.py.txt", "fnmatch.py.txt")
THIRD_PARTY_FILES = (
    "pygls_json_rpc.py.txt",
    "pygls_feature_manager.py.txt",
    "pygls_io_.py.txt",
    "pygls_server.py.txt",
    "pygls_language_server.py.txt",
    "cattrs_dispatch.py.txt",
    "cattrs_disambiguators.py.txt",
)
"""Code not in CPython's stdlib (which the model may have memorized); see corpus/typing/NOTICE.md."""
TYPING_FILES = (
    *STDLIB_FILES,
    "pygls_json_rpc.py.txt",
    "pygls_feature_manager.py.txt",
    "pygls_server.py.txt",
    "cattrs_dispatch.py.txt",
)
"""Retyped by the typing replay: the stdlib files and four third-party ones (the bodies of the third-party
files are longer per line, so they get one file more for a like number of pauses)."""
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
    origin: str = STDLIB
    """``stdlib`` or ``third-party``."""

    @property
    def keystrokes(self) -> list[str]:
        return split_keystrokes(self.body)


def origin_of(file_name: str) -> str:
    return STDLIB if file_name in STDLIB_FILES else THIRD_PARTY


def read_corpus_file(name: str, typing_dir: Path = TYPING_DIR) -> str:
    path = typing_dir / name
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from exc


def next_keystroke(body: str, i: int) -> str:
    """The keystroke that types ``body`` from index ``i`` on."""
    if body[i] == "\n" or i == 0:
        j = i + 1 if body[i] == "\n" else i
        while j < len(body) and body[j] in " \t":
            j += 1
        if j > i:
            return body[i:j]
    return body[i]


def project_of(file_name: str) -> str:
    """``pygls``, ``cattrs``, or ``stdlib``: the files of one project sit open together in an editor."""
    return "stdlib" if file_name in STDLIB_FILES else file_name.split("_", 1)[0]


def neighbours(session: TypingSession, typing_dir: Path = TYPING_DIR) -> list[tuple[str, str]]:
    """The other corpus files of ``session``'s project, as (name, text): what an editor has open beside it."""
    own = session.name.split(":", 1)[0] + ".txt"
    names = [n for n in (*STDLIB_FILES, *THIRD_PARTY_FILES) if n != own and project_of(n) == project_of(own)]
    return [(name.removesuffix(".txt"), read_corpus_file(name, typing_dir)) for name in names]


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


def sessions_from_source(label: str, text: str, origin: str = STDLIB) -> list[TypingSession]:
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
            out.append(TypingSession(f"{label}:{node.name}", text[:start], body, text[end:], origin))
    return sorted(out, key=lambda s: len(s.before))


def load_sessions(
    max_keys: int, files: tuple[str, ...] = TYPING_FILES, typing_dir: Path = TYPING_DIR
) -> list[TypingSession]:
    """Sessions from each of ``files``, in file order, that fit an equal share of ``max_keys`` keystrokes."""
    share = max_keys // max(1, len(files))
    chosen: list[TypingSession] = []
    for name in files:
        text = read_corpus_file(name, typing_dir)
        used = 0
        for session in sessions_from_source(name.removesuffix(".txt"), text, origin_of(name)):
            keys = len(session.keystrokes)
            if used + keys <= share:
                chosen.append(session)
                used += keys
    return chosen
