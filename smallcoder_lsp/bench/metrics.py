"""Metric arithmetic over recorded requests and tasks (definitions: bench/README.md in the repository)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from smallcoder_lsp.bench.intervals import bootstrap, wilson
from smallcoder_lsp.bench.records import CutRecord, RequestRecord, TaskRecord

QUANTILES = (50, 95, 99)
NEVER = math.inf
"""The time to a suggestion that never appeared."""


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile with linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The smallest value that at least q% of ``values`` do not exceed; None for no values. Values may be
    ``NEVER``: the p90 of pause times is then never when more than 10% of pauses showed nothing."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


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
        "drafts_taken": ratio(sum(s.get("drafts_taken", 0) for s in stats), sum(s.get("drafted", 0) for s in stats)),
    }


def first_token_ms(stats: Sequence[dict[str, Any]]) -> list[float]:
    return [1000 * s["first_token_s"] for s in stats if s.get("first_token_s") is not None]


def is_warm(stats: dict[str, Any]) -> bool:
    """A warm request reused at least half of its prompt from the KV cache."""
    return 2 * stats.get("reused_tokens", 0) >= stats.get("prompt_tokens", 0) > 0


def pause_summary(records: Sequence[RequestRecord]) -> dict[str, Any]:
    """What the user sees when they stop typing: the share of pauses with a suggestion, the time from the last
    keystroke to it (a pause that showed nothing counts as never), and the share whose suggestion was right."""
    pauses = [r for r in records if r.pause_s > 0]
    shown, right = sum(1 for r in pauses if r.shown), sum(1 for r in pauses if r.right)
    times = [r.latency_ms if r.shown and r.latency_ms is not None else NEVER for r in pauses]
    return {
        "pauses": len(pauses),
        "shown_at_pause": fraction(shown, len(pauses)),
        "shown_at_pause_ci": wilson(shown, len(pauses)),
        "pause_ms": {"p50": nearest_rank(times, 50), "p90": nearest_rank(times, 90)},
        "pause_ms_ci": {
            "p50": bootstrap(times, lambda v: nearest_rank(v, 50)),
            "p90": bootstrap(times, lambda v: nearest_rank(v, 90)),
        },
        "right_at_pause": fraction(right, len(pauses)),
        "right_at_pause_ci": wilson(right, len(pauses)),
    }


def keystroke_summary(records: Sequence[RequestRecord]) -> dict[str, Any]:
    """Requests sent while typing on (not at a pause): how often a suggestion appeared before the next key."""
    keys = [r for r in records if r.pause_s == 0]
    shown = [r for r in records if r.shown]
    return {
        "keys": len(keys),
        "shown_before_next_key": fraction(sum(1 for r in keys if r.shown), len(keys)),
        "answered_before_next_key": fraction(sum(1 for r in keys if not r.late), len(keys)),
        "type_through_fraction": fraction(sum(1 for r in shown if r.source == "typed"), len(shown)),
    }


def typing_summary(records: Sequence[RequestRecord], body_chars: int) -> dict[str, Any]:
    """Pauses, keystrokes, acceptance and validity over one typing replay. ``body_chars``: characters retyped."""
    answered = [r for r in records if r.answered_s is not None]
    shown = [r for r in answered if r.suggestion]
    stats = [r.stats for r in records if r.stats]
    saved = sum(r.accepted_chars for r in records)
    return {
        "requests": len(records),
        "answered": len(answered),
        "errors": sum(1 for r in records if r.error and not r.cancelled),
        **pause_summary(records),
        **keystroke_summary(records),
        "response_ms": quantiles([r.latency_ms for r in answered if r.latency_ms is not None]),
        "first_token_ms": quantiles(first_token_ms(stats)),
        "warm_first_token_ms": quantiles(first_token_ms([s for s in stats if is_warm(s)])),
        **throughput(stats),
        "empty_fraction": fraction(sum(1 for r in answered if r.empty), len(answered)),
        "acceptance_fraction": fraction(sum(1 for r in shown if r.accepted), len(shown)),
        "chars_retyped": body_chars,
        "chars_saved": saved,
        "chars_saved_fraction": fraction(saved, body_chars),
        "shown_valid_rate": _valid_rate(r.shown_valid for r in records),
        "raw_valid_rate": _valid_rate(r.raw_valid for r in records),
    }


def typing_by_origin(records: Sequence[RequestRecord], body_chars: dict[str, int]) -> dict[str, dict[str, Any]]:
    """``typing_summary`` per origin of the retyped code (stdlib, third-party)."""
    return {o: typing_summary([r for r in records if r.origin == o], n) for o, n in body_chars.items()}


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def lines_summary(cuts: Sequence[CutRecord], by_kind: bool = True) -> dict[str, Any]:
    """Quality and latency over line cuts, with 95% intervals. A cut that failed counts as a miss."""
    done = [c for c in cuts if not c.error]
    shown = [c for c in done if c.suggestion]
    exact = sum(1 for c in cuts if c.exact)
    parsed = [c.parses for c in shown if c.parses is not None]
    clean = [c.no_new_errors for c in shown if c.no_new_errors is not None]
    compiled = [c.compiles for c in shown if c.compiles is not None]
    empty = len(done) - len(shown)
    expected_chars = sum(len(c.expected) for c in cuts)
    stats = [c.stats for c in done if c.stats]
    response = [c.response_ms for c in done if c.response_ms is not None]
    shown_ms = [c.response_ms for c in shown if c.response_ms is not None]

    def saved_share(sample: Sequence[CutRecord]) -> float | None:
        return fraction(sum(c.saved_chars for c in sample), sum(len(c.expected) for c in sample))

    summary: dict[str, Any] = {
        "cuts": len(cuts),
        "errors": len(cuts) - len(done),
        "exact_match": fraction(exact, len(cuts)),
        "exact_match_ci": wilson(exact, len(cuts)),
        "edit_similarity": _mean([c.similarity for c in cuts]),
        "edit_similarity_ci": bootstrap([c.similarity for c in cuts], _mean),
        "parses": fraction(sum(parsed), len(parsed)),
        "parses_ci": wilson(sum(parsed), len(parsed)),
        "no_new_errors": fraction(sum(clean), len(clean)),
        "compiles": fraction(sum(compiled), len(compiled)),
        "compiles_ci": wilson(sum(compiled), len(compiled)),
        "empty_fraction": fraction(empty, len(done)),
        "empty_fraction_ci": wilson(empty, len(done)),
        "chars_saved": sum(c.saved_chars for c in cuts),
        "chars_saved_fraction": fraction(sum(c.saved_chars for c in cuts), expected_chars),
        "chars_saved_fraction_ci": bootstrap(list(cuts), saved_share),
        "response_ms": {"p50": nearest_rank(response, 50), "p90": nearest_rank(response, 90)},
        "response_ms_ci": {
            "p50": bootstrap(response, lambda v: nearest_rank(v, 50)),
            "p90": bootstrap(response, lambda v: nearest_rank(v, 90)),
        },
        "shown_ms": {"p50": nearest_rank(shown_ms, 50), "p90": nearest_rank(shown_ms, 90)},
        "first_token_ms": quantiles(first_token_ms(stats)),
        **throughput(stats),
        "raw_valid_rate": _valid_rate(c.raw_valid for c in done),
    }
    if by_kind:
        kinds = sorted({c.kind for c in cuts})
        summary["by_kind"] = {k: lines_summary([c for c in cuts if c.kind == k], by_kind=False) for k in kinds}
    return summary


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


TYPING_COMPARED = (
    "shown_at_pause",
    "pause_ms.p50",
    "pause_ms.p90",
    "right_at_pause",
    "chars_saved_fraction",
    "first_token_ms.p50",
    "first_token_ms.p95",
)
LINES_COMPARED = (
    "exact_match",
    "edit_similarity",
    "parses",
    "compiles",
    "empty_fraction",
    "response_ms.p50",
    "response_ms.p90",
)


def lookup(summary: dict[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` of a summary, or None."""
    value: Any = summary
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def compare(naive: dict[str, Any], reuse: dict[str, Any], keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each figure with KV reuse and in the naive baseline, and naive ÷ reuse (for times, > 1 means reuse is
    faster; a share below 1 means the naive baseline reached less of it)."""
    rows = {}
    for key in keys:
        mine, theirs = lookup(reuse, key), lookup(naive, key)
        share = None
        if mine is not None and theirs is not None and mine not in (0, NEVER):
            share = theirs / mine
        rows[key] = {"reuse": mine, "naive": theirs, "ratio": share}
    return rows
