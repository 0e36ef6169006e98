"""What the bench records per request: plain dataclasses that the metrics read and the JSON report writes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RequestRecord:
    """One inline-completion request of the typing replay. Times are seconds from the start of the stage."""

    session: str
    key: int
    sent_s: float
    next_due_s: float
    """When the next keystroke was due (sent_s + pace)."""
    answered_s: float | None = None
    cancelled: bool = False
    """The client sent ``$/cancelRequest`` because the next key came first."""
    error: str = ""
    suggestion: str = ""
    """The shown text after the cursor."""
    accepted_chars: int = 0
    stats: dict[str, Any] | None = None
    """The server's ``lastCompletion`` for this request, when it produced one."""
    shown_valid: bool | None = None
    raw_valid: bool | None = None
    document: str = field(default="", repr=False)
    cursor: int = 0

    @property
    def latency_ms(self) -> float | None:
        return None if self.answered_s is None else 1000 * (self.answered_s - self.sent_s)

    @property
    def late(self) -> bool:
        return self.answered_s is None or self.answered_s > self.next_due_s

    @property
    def empty(self) -> bool:
        return self.answered_s is not None and not self.suggestion

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
class StageResult:
    """One server run: the coding corpus or a typing replay, on one backend and model, in one mode."""

    kind: str
    """``corpus`` or ``typing``."""
    backend: str
    mode: str = "reuse"
    """``reuse`` (the product) or ``naive`` (a fresh KV cache per request)."""
    ok: bool = True
    reason: str = ""
    model: str = ""
    peak_rss_bytes: int | None = None
    wall_s: float = 0.0
    requests: list[RequestRecord] = field(default_factory=list)
    tasks: list[TaskRecord] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.backend}/{self.mode}"

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
