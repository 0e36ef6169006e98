"""The metric arithmetic, on hand-made traces."""

from __future__ import annotations

import pytest

from smallcoder_lsp.bench.metrics import by_category, compare, corpus_summary, percentile, typing_summary
from smallcoder_lsp.bench.records import RequestRecord, TaskRecord
from smallcoder_lsp.bench.targets import GB, evaluate


def stats(prompt: int, reused: int, first_ms: float, generated: int = 4, decode_s: float = 0.1) -> dict:
    return {
        "prompt_tokens": prompt,
        "reused_tokens": reused,
        "evaluated_tokens": prompt - reused,
        "prefill_s": first_ms / 1000,
        "first_token_s": first_ms / 1000,
        "generated_tokens": generated,
        "decode_s": decode_s,
    }


def test_percentile_interpolates_between_ranks():
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10, 20, 30, 40, 50], 95) == pytest.approx(48.0)
    assert percentile([3, 1, 2], 0) == 1 and percentile([3, 1, 2], 100) == 3


def trace() -> list[RequestRecord]:
    pace = 0.12
    return [
        # answered in 20 ms, accepted (8 chars), warm
        RequestRecord("s", 0, 0.0, pace, answered_s=0.02, suggestion="x = 1", accepted_chars=8,
                      stats=stats(100, 90, 15), shown_valid=True, raw_valid=True),
        # answered in 200 ms: late; shown but not accepted; cold
        RequestRecord("s", 1, 0.12, 0.24, answered_s=0.32, suggestion="y", stats=stats(100, 0, 190),
                      shown_valid=False, raw_valid=False),
        # cancelled before an answer: late, not answered
        RequestRecord("s", 2, 0.24, 0.36, cancelled=True, error="canceled"),
        # answered empty in 40 ms, warm
        RequestRecord("s", 3, 0.36, 0.48, answered_s=0.40, stats=stats(100, 99, 5), raw_valid=True),
    ]  # fmt: skip


def test_typing_summary_on_a_hand_made_trace():
    s = typing_summary(trace(), body_chars=40)
    assert s["requests"] == 4 and s["answered"] == 3 and s["errors"] == 0
    assert s["response_ms"]["p50"] == pytest.approx(40.0)
    assert s["late_fraction"] == pytest.approx(2 / 4)
    assert s["empty_fraction"] == pytest.approx(1 / 3)
    assert s["acceptance_fraction"] == pytest.approx(1 / 2)
    assert s["chars_saved"] == 8 and s["chars_saved_fraction"] == pytest.approx(0.2)
    assert s["reuse_ratio"] == pytest.approx(189 / 300)
    assert s["prefill_tok_s"] == pytest.approx((10 + 100 + 1) / 0.210)
    assert s["decode_tok_s"] == pytest.approx(12 / 0.3)
    assert s["warm_first_token_ms"]["p50"] == pytest.approx(10.0)  # the two warm ones: 15 and 5 ms
    assert s["first_token_ms"]["p99"] <= 190
    assert s["shown_valid_rate"] == pytest.approx(0.5)
    assert s["raw_valid_rate"] == pytest.approx(2 / 3)


def test_corpus_summary_counts_errors_as_failed_attempts():
    tasks = [
        TaskRecord("a", "x", "basic", 100.0, shown="ok", stats=stats(30, 0, 50), shown_valid=True, raw_valid=False,
                   keyword_score=1.0, has_tests=True, passed=True),
        TaskRecord("b", "x", "basic", 300.0, shown="", stats=stats(30, 0, 150), shown_valid=True, raw_valid=True,
                   keyword_score=0.5, has_tests=True, passed=False, reason="failed (exit 1)"),
        TaskRecord("c", "y", "advanced", error="server exited", reason="server exited"),
    ]  # fmt: skip
    s = corpus_summary(tasks)
    assert s["tasks"] == 3 and s["errors"] == 1
    assert s["pass_at_1"] == pytest.approx(1 / 3)
    assert s["shown_valid_rate"] == 1.0 and s["raw_valid_rate"] == 0.5
    assert s["keyword_score"] == pytest.approx(0.75)
    assert s["empty_fraction"] == 0.5
    assert s["response_ms"]["p50"] == pytest.approx(200.0)
    cats = by_category(tasks)
    assert set(cats) == {"x", "y"} and cats["y"]["pass_at_1"] == 0.0 and cats["x"]["pass_at_1"] == 0.5


def test_naive_ratio_is_naive_over_reuse():
    reuse = {"response_ms": {"p50": 20, "p95": 100}, "first_token_ms": {"p50": 10, "p95": 40}, "late_fraction": 0.1}
    naive = {"response_ms": {"p50": 400, "p95": 900}, "first_token_ms": {"p50": 300, "p95": None}, "late_fraction": 0.9}
    r = compare(naive, reuse)
    assert r["response_p50"] == 20 and r["response_p95"] == 9 and r["first_token_p50"] == 30
    assert r["first_token_p95"] is None and r["late_fraction"] == pytest.approx(9)


def test_targets_pass_fail_and_unmeasured():
    summary = {
        "corpus": {"first_token_ms": {"p95": 150}, "shown_valid_rate": 0.5},
        "typing": {"response_ms": {"p50": 30, "p95": 121}, "late_fraction": 0.05, "warm_first_token_ms": {"p95": None}},
        "peak_rss_bytes": 2 * GB,
        "shown_valid_rate": 1.0,
    }
    verdicts = {row["target"]: row["verdict"] for row in evaluate(summary)}
    assert verdicts["first token (corpus p95)"] == "PASS"
    assert verdicts["memory (peak RSS)"] == "PASS" and verdicts["peak RSS"] == "FAIL"
    assert verdicts["syntax-valid completions (corpus)"] == "FAIL"
    assert verdicts["typing response p50"] == "PASS" and verdicts["typing response p95"] == "FAIL"
    assert verdicts["late answers while typing"] == "PASS"
    assert verdicts["warm first token p95"] == "FAIL (not measured)"
    assert verdicts["shown completions parseable"] == "PASS"
