"""What the bench records per request: plain dataclasses that the metrics read and the JSON report writes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from smallcoder_lsp.bench.matching import exact_match


@dataclass
class RequestRecord:
    """One inline-completion request of the typing replay. Times are seconds from the start of the stage."""

    session: str
    key: int
    sent_s: float
    next_due_s: float
    """When the next keystroke came (planned: sent_s + the delay; the replay sets the time it was sent)."""
    answered_s: float | None = None
    cancelled: bool = False
    """The client sent ``$/cancelRequest`` because the next key came first."""
    error: str = ""
    suggestion: str = ""
    """The shown text after the cursor."""
    accepted_chars: int = 0
    stats: dict[str, Any] | None = None
    """The server's ``lastCompletion`` for this request, when it produced one."""
    source: str = ""
    """The server's ``lastSource`` after this answer: ``typed`` for a suggestion the user typed into."""
    shown_valid: bool | None = None
    raw_valid: bool | None = None
    origin: str = ""
    """``stdlib`` or ``third-party``: where the retyped code comes from."""
    pause_s: float = 0.0
    """The user stopped this long after this keystroke (0: the next key came at the typing pace)."""
    expected: str = ""
    """The rest of the true line after the cursor."""
    document: str = field(default="", repr=False)
    cursor: int = 0

    @property
    def latency_ms(self) -> float | None:
        return None if self.answered_s is None else 1000 * (self.answered_s - self.sent_s)

    @property
    def late(self) -> bool:
        """Not answered (empty or not) before the next key."""
        return self.answered_s is None or self.answered_s > self.next_due_s

    @property
    def empty(self) -> bool:
        return self.answered_s is not None and not self.suggestion

    @property
    def shown(self) -> bool:
        """A suggestion appeared before the next key: a non-empty answer in time (an empty one never counts)."""
        return bool(self.suggestion) and not self.late

    @property
    def right(self) -> bool:
        """Shown, and its first line is the rest of the true line."""
        return self.shown and exact_match(self.suggestion, self.expected)

    @property
    def accepted(self) -> bool:
        return self.accepted_chars > 0


@dataclass
class TaskRecord:
    """One coding-corpus task: a single invoked completion at the task's cursor."""

    name: str
    category: str
    level: str
    response_ms: float | None = None
    shown: str = ""
    raw: str = ""
    stats: dict[str, Any] | None = None
    shown_valid: bool | None = None
    raw_valid: bool | None = None
    keyword_score: float = 0.0
    has_tests: bool = False
    passed: bool = False
    reason: str = ""
    """Why the tests failed, or why the task could not be run at all."""
    error: str = ""
    docstring_parses: bool | None = None
    """Docstring tasks: the file with the docstring command's edit parses."""
    docstring_params_covered: float | None = None
    """Docstring tasks: the fraction of the function's parameters the generated docstring names."""


@dataclass
class CutRecord:
    """One cut of the line-completion set: a single request where the rest of a true line was removed."""

    name: str
    """``file:line:column`` (1-based line, 0-based column of the cursor)."""
    kind: str
    """``mid`` (the line's tail removed) or ``line`` (the whole line, the cursor at its indentation)."""
    expected: str
    """The removed rest of the true line."""
    response_ms: float | None = None
    suggestion: str = ""
    source: str = ""
    stats: dict[str, Any] | None = None
    error: str = ""
    exact: bool = False
    similarity: float = 0.0
    parses: bool | None = None
    """With the suggestion inserted, the file has no more syntax errors than the original (uncut) file."""
    no_new_errors: bool | None = None
    """With the suggestion inserted, no more syntax errors than the cut document had (the server's own check)."""
    compiles: bool | None = None
    """With the suggestion inserted, Python's own parser accepts the file (tree-sitter forgives bad indentation)."""
    raw_valid: bool | None = None

    @property
    def saved_chars(self) -> int:
        return len(self.expected.rstrip()) if self.exact else 0


@dataclass
class StageResult:
    """One server run: the coding corpus, a typing replay or the line cuts, on one backend and model, in one mode."""

    kind: str
    """``corpus``, ``typing`` or ``lines``."""
    backend: str
    mode: str = "reuse"
    setting: str = ""
    """The ``model`` setting this stage's server ran with (empty: the server's default), when the bench compares
    models; ``model`` is what the server said it loaded."""
    """``reuse`` (the product) or ``naive`` (a fresh KV cache per request)."""
    ok: bool = True
    reason: str = ""
    model: str = ""
    model_bytes: int | None = None
    """The size of the model file the server loaded (what installing it costs on disk)."""
    peak_rss_bytes: int | None = None
    wall_s: float = 0.0
    requests: list[RequestRecord] = field(default_factory=list)
    tasks: list[TaskRecord] = field(default_factory=list)
    cuts: list[CutRecord] = field(default_factory=list)

    @property
    def label(self) -> str:
        head = f"{self.kind}/{self.setting}" if self.setting else self.kind
        return f"{head}/{self.backend}/{self.mode}"

    def fail(self, reason: str) -> None:
        self.ok = False
        self.reason = self.reason or reason


def to_plain(value: Any) -> Any:
    """Dataclasses to JSON-ready dicts, leaving out document snapshots."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "document"}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value
