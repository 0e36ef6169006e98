"""The targets the bench checks, each PASS or FAIL: the seeds' bars and this project's own."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

GB = 1 << 30


@dataclass(frozen=True)
class Target:
    name: str
    source: str
    """``seeds`` (the earlier validation reports) or ``ours``."""
    metric: str
    """Path into the summary, e.g. ``typing.response_ms.p50``."""
    compare: Callable[[Any, Any], Any]
    bound: float
    unit: str = ""


LT, LE, GT, EQ = operator.lt, operator.le, operator.gt, operator.eq
SYMBOL: dict[Callable[[Any, Any], Any], str] = {LT: "<", LE: "≤", GT: ">", EQ: "="}

TARGETS = (
    Target("first token (corpus p95)", "seeds", "corpus.first_token_ms.p95", LT, 200, "ms"),
    Target("memory (peak RSS)", "seeds", "peak_rss_bytes", LT, 10 * GB, "bytes"),
    Target("syntax-valid completions (corpus)", "seeds", "corpus.shown_valid_rate", GT, 0.80, "share"),
    Target("typing response p50", "ours", "typing.response_ms.p50", LE, 30, "ms"),
    Target("typing response p95", "ours", "typing.response_ms.p95", LE, 120, "ms"),
    Target("late answers while typing", "ours", "typing.late_fraction", LE, 0.05, "share"),
    Target("warm first token p95", "ours", "typing.warm_first_token_ms.p95", LE, 50, "ms"),
    Target("peak RSS", "ours", "peak_rss_bytes", LE, 1 * GB, "bytes"),
    Target("shown completions parseable", "ours", "shown_valid_rate", EQ, 1.0, "share"),
)


def lookup(summary: dict[str, Any], path: str) -> Any:
    value: Any = summary
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "bytes":
        return f"{value / GB:.2f} GB" if value >= GB / 4 else f"{value / (1 << 20):.0f} MB"
    if unit == "share":
        return f"{100 * value:.1f}%"
    return f"{value:.0f} {unit}" if unit else f"{value:.3g}"


def evaluate(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target against ``summary`` (the primary backend's figures): PASS, FAIL, or FAIL when unmeasured."""
    rows = []
    for t in TARGETS:
        value = lookup(summary, t.metric)
        verdict = "PASS" if value is not None and t.compare(value, t.bound) else "FAIL"
        rows.append(
            {
                "target": t.name,
                "source": t.source,
                "bar": f"{SYMBOL[t.compare]} {format_value(t.bound, t.unit)}",
                "value": value,
                "shown": format_value(value, t.unit),
                "verdict": verdict if value is not None else "FAIL (not measured)",
            }
        )
    return rows
