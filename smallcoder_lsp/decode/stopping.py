"""Stop rules, checked on the text generated so far after every token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StopRules:
    multiline: bool
    """Single-line completions stop at the first line break."""
    indent: str = ""
    """Block indentation: a later line indented less than this ends the block (multi-line only)."""
    max_tokens: int = 48
    max_lines: int = 8
    max_seconds: float | None = None
    """Time allowed for generating after the first token; what is ready then is returned."""
    end_ids: frozenset[int] = frozenset()
    """Tokens that end the generation besides the model's own end tokens (a FIM family's markers)."""


def indent_width(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def stop_reason(text: str, n_tokens: int, rules: StopRules) -> str | None:
    """Why generation should stop now, or None to go on."""
    if n_tokens >= rules.max_tokens:
        return "max_tokens"
    if not rules.multiline:
        return "line_end" if "\n" in text else None
    lines = text.split("\n")
    block = indent_width(rules.indent)
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() and indent_width(line) < block:
            return "dedent"
        if block == 0 and not line.strip() and i < len(lines) - 1 and any(x.strip() for x in lines[:i]):
            return "blank_line"
    if len(lines) > rules.max_lines:
        return "max_lines"
    return None
