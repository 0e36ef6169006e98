"""Metric arithmetic over recorded requests and tasks (definitions: bench/README.md in the repository)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from smallcoder_lsp.bench.records import RequestRecord, TaskRecord

QUANTILES = (50, 95, 99)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile with linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def quantiles(values: Sequence[float]) -> dict[str, float | None]:
    return {f"p{q}": percentile(values, q) for q in QUANTILES}


def fraction(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def _valid_rate(flags: Iterable[bool | None]) -> float | None:
    known = [f for f in flags if f is not None]
    return fraction(sum(known), len(known))


def throughput(stats: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Prefill and decode tokens per second over many completions, and the share of prompt tokens reused."""
    prompt = sum(s.get("prompt_tokens", 0) for s in stats)
    return {
        "prefill_tok_s": ratio(
            sum(s.get("evaluated_tokens", 0) for s in stats), sum(s.get("prefill_s", 0.0) for s in stats)
        ),
        "decode_tok_s": ratio(
            sum(s.get("generated_tokens", 0) for s in stats), sum(s.get("decode_s", 0.0) for s in stats)
        ),
        "reuse_ratio": ratio(sum(s.get("reused_tokens", 0) for s in stats), prompt),
    }


def first_token_ms(stats: Sequence[dict[str, Any]]) -> list[float]:
    return [1000 * s["first_token_s"] for s in stats if s.get("first_token_s") is not None]


def is_warm(stats: dict[str, Any]) -> bool:
    """A warm request reused at least half of its prompt from the KV cache."""
    return 2 * stats.get("reused_tokens", 0) >= stats.get("prompt_tokens", 0) > 0


def typing_summary(records: Sequence[RequestRecord], body_chars: int) -> dict[str, Any]:
    """Latency, lateness, acceptance and validity over one typing replay. ``body_chars``: characters retyped."""
    answered = [r for r in records if r.answered_s is not None]
    shown = [r for r in answered if r.suggestion]
    stats = [r.stats for r in records if r.stats]
    saved = sum(r.accepted_chars for r in records)
    return {
        "requests": len(records),
        "answered": len(answered),
        "errors": sum(1 for r in records if r.error and not r.cancelled),
        "response_ms": quantiles([r.latency_ms for r in answered if r.latency_ms is not None]),
        "first_token_ms": quantiles(first_token_ms(stats)),
        "warm_first_token_ms": quantiles(first_token_ms([s for s in stats if is_warm(s)])),
        **throughput(stats),
        "late_fraction": fraction(sum(1 for r in records if r.late), len(records)),
        "empty_fraction": fraction(sum(1 for r in answered if r.empty), len(answered)),
        "acceptance_fraction": fraction(sum(1 for r in shown if r.accepted), len(shown)),
        "chars_retyped": body_chars,
        "chars_saved": saved,
        "chars_saved_fraction": fraction(saved, body_chars),
        "shown_valid_rate": _valid_rate(r.shown_valid for r in records),
        "raw_valid_rate": _valid_rate(r.raw_valid for r in records),
    }


def docstring_summary(tasks: Sequence[TaskRecord]) -> dict[str, float | None]:
    """The docstring command on the docstring tasks: edited files that parse, parameters named."""
    parsed = [t.docstring_parses for t in tasks if t.docstring_parses is not None]
    covered = [t.docstring_params_covered for t in tasks if t.docstring_params_covered is not None]
    return {
        "docstring_parses_rate": fraction(sum(parsed), len(parsed)),
        "docstring_params_covered": sum(covered) / len(covered) if covered else None,
    }


def corpus_summary(tasks: Sequence[TaskRecord]) -> dict[str, Any]:
    """Quality and latency over coding-corpus tasks (all of them, or one category's)."""
    done = [t for t in tasks if not t.error]
    tested = [t for t in done if t.has_tests] + [t for t in tasks if t.error]
    stats = [t.stats for t in done if t.stats]
    return {
        "tasks": len(tasks),
        "errors": len(tasks) - len(done),
        "pass_at_1": fraction(sum(1 for t in tested if t.passed), len(tested)),
        "shown_valid_rate": _valid_rate(t.shown_valid for t in done),
        "raw_valid_rate": _valid_rate(t.raw_valid for t in done),
        "keyword_score": sum(t.keyword_score for t in done) / len(done) if done else None,
        **docstring_summary(done),
        "empty_fraction": fraction(sum(1 for t in done if not t.shown), len(done)),
        "response_ms": quantiles([t.response_ms for t in done if t.response_ms is not None]),
        "first_token_ms": quantiles(first_token_ms(stats)),
        **throughput(stats),
    }


def by_category(tasks: Sequence[TaskRecord]) -> dict[str, dict[str, Any]]:
    categories = sorted({t.category for t in tasks})
    return {c: corpus_summary([t for t in tasks if t.category == c]) for c in categories}


def compare(naive: dict[str, Any], reuse: dict[str, Any]) -> dict[str, float | None]:
    """How many times slower (or more often late) the naive baseline is than KV reuse; > 1 means reuse wins."""

    def div(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None or b == 0 else a / b

    return {
        "response_p50": div(naive["response_ms"]["p50"], reuse["response_ms"]["p50"]),
        "response_p95": div(naive["response_ms"]["p95"], reuse["response_ms"]["p95"]),
        "first_token_p50": div(naive["first_token_ms"]["p50"], reuse["first_token_ms"]["p50"]),
        "first_token_p95": div(naive["first_token_ms"]["p95"], reuse["first_token_ms"]["p95"]),
        "late_fraction": div(naive["late_fraction"], reuse["late_fraction"]),
    }
