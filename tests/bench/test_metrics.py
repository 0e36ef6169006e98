"""The metric arithmetic, on hand-made traces."""

from __future__ import annotations

import pytest

from smallcoder_lsp.bench.metrics import (
    NEVER,
    by_category,
    compare,
    corpus_summary,
    nearest_rank,
    pause_summary,
    percentile,
    typing_by_origin,
    typing_summary,
)
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
        "drafted": 3,
        "drafts_taken": 2,
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
        # a keystroke answered in 20 ms, accepted (8 chars), warm, typed through
        RequestRecord("s", 0, 0.0, pace, answered_s=0.02, suggestion="x = 1", accepted_chars=8, source="typed",
                      stats=stats(100, 90, 15), shown_valid=True, raw_valid=True, expected="x = 1"),
        # a keystroke answered in 200 ms: after the next key, so not shown; cold
        RequestRecord("s", 1, 0.12, 0.24, answered_s=0.32, suggestion="y", stats=stats(100, 0, 190),
                      shown_valid=False, raw_valid=False),
        # a keystroke cancelled before an answer
        RequestRecord("s", 2, 0.24, 0.36, cancelled=True, error="canceled"),
        # a pause: answered empty in 40 ms, warm: nothing shown, so never
        RequestRecord("s", 3, 0.36, 1.36, answered_s=0.40, stats=stats(100, 99, 5), raw_valid=True, pause_s=1.0),
        # a pause: shown after 100 ms, right (trailing spaces aside)
        RequestRecord("s", 4, 1.36, 2.36, answered_s=1.46, suggestion="b)  \n", pause_s=1.0, expected="b)"),
        # a pause: shown after 300 ms, wrong
        RequestRecord("s", 5, 2.36, 3.36, answered_s=2.66, suggestion="c", pause_s=1.0, expected="d"),
        # a pause: the answer came after the user typed on (1.2 s): not shown
        RequestRecord("s", 6, 3.36, 4.36, answered_s=4.56, suggestion="e", pause_s=1.0, expected="e"),
    ]  # fmt: skip


def test_typing_summary_counts_only_non_empty_answers_in_time_as_shown():
    s = typing_summary(trace(), body_chars=40)
    assert s["requests"] == 7 and s["answered"] == 6 and s["errors"] == 0
    assert s["pauses"] == 4 and s["shown_at_pause"] == pytest.approx(2 / 4)
    # pause times: never, 100, 300, never -> p50 is the 2nd smallest, p90 never
    assert s["pause_ms"]["p50"] == pytest.approx(300.0) and s["pause_ms"]["p90"] == NEVER
    assert s["right_at_pause"] == pytest.approx(1 / 4)
    lo, hi = s["shown_at_pause_ci"]
    assert lo < 0.5 < hi
    assert s["keys"] == 3 and s["shown_before_next_key"] == pytest.approx(1 / 3)
    assert s["answered_before_next_key"] == pytest.approx(1 / 3)
    assert s["type_through_fraction"] == pytest.approx(1 / 3)  # of the three shown suggestions
    assert s["empty_fraction"] == pytest.approx(1 / 6)
    assert s["acceptance_fraction"] == pytest.approx(1 / 5)
    assert s["chars_saved"] == 8 and s["chars_saved_fraction"] == pytest.approx(0.2)
    assert s["reuse_ratio"] == pytest.approx(189 / 300)
    assert s["prefill_tok_s"] == pytest.approx((10 + 100 + 1) / 0.210)
    assert s["decode_tok_s"] == pytest.approx(12 / 0.3)
    assert s["drafts_taken"] == pytest.approx(2 / 3)
    assert s["warm_first_token_ms"]["p50"] == pytest.approx(10.0)  # the two warm ones: 15 and 5 ms
    assert s["first_token_ms"]["p99"] <= 190
    assert s["shown_valid_rate"] == pytest.approx(0.5)
    assert s["raw_valid_rate"] == pytest.approx(2 / 3)


def test_pause_percentiles_are_never_once_too_many_pauses_showed_nothing():
    shown = [RequestRecord("s", i, 0.0, 1.0, answered_s=0.1, suggestion="x", pause_s=1.0) for i in range(9)]
    blank = RequestRecord("s", 9, 0.0, 1.0, answered_s=0.05, pause_s=1.0)  # empty: never
    assert pause_summary([*shown, blank])["pause_ms"]["p90"] == pytest.approx(100.0)  # 10% never: still a time
    two_blank = pause_summary([*shown[:8], blank, blank])
    assert two_blank["pause_ms"]["p90"] == NEVER and two_blank["pause_ms"]["p50"] == pytest.approx(100.0)
    assert pause_summary([blank])["pause_ms"]["p50"] == NEVER and pause_summary([])["shown_at_pause"] is None


def test_nearest_rank_percentiles():
    assert nearest_rank([], 50) is None
    assert nearest_rank([5.0], 90) == 5.0
    assert nearest_rank([4, 1, 3, 2], 50) == 2 and nearest_rank([4, 1, 3, 2], 90) == 4
    assert nearest_rank([1, 2, NEVER], 50) == 2 and nearest_rank([1, 2, NEVER], 90) == NEVER


def test_typing_figures_split_by_origin():
    records = trace()
    for r in records[:3]:
        r.origin = "stdlib"
    for r in records[3:]:
        r.origin = "third-party"
    split = typing_by_origin(records, {"stdlib": 20, "third-party": 20})
    assert split["stdlib"]["requests"] == 3 and split["stdlib"]["pauses"] == 0
    assert split["third-party"]["pauses"] == 4 and split["stdlib"]["chars_saved_fraction"] == pytest.approx(0.4)


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


def test_the_naive_comparison_puts_both_figures_beside_their_ratio():
    reuse = {"pause_ms": {"p50": 20, "p90": 100}, "shown_at_pause": 0.9, "first_token_ms": {"p50": 10}}
    naive = {"pause_ms": {"p50": 400, "p90": NEVER}, "shown_at_pause": 0.45, "first_token_ms": {"p50": None}}
    rows = compare(naive, reuse, ("pause_ms.p50", "pause_ms.p90", "shown_at_pause", "first_token_ms.p50", "nope"))
    assert rows["pause_ms.p50"] == {"reuse": 20, "naive": 400, "ratio": 20}
    assert rows["pause_ms.p90"]["ratio"] == NEVER and rows["shown_at_pause"]["ratio"] == pytest.approx(0.5)
    assert rows["first_token_ms.p50"]["ratio"] is None and rows["nope"]["reuse"] is None


def test_targets_pass_fail_and_unmeasured():
    summary = {
        "corpus": {"first_token_ms": {"p95": 150}, "shown_valid_rate": 0.5},
        "typing": {
            "shown_at_pause": 0.9,
            "pause_ms": {"p50": 151, "p90": NEVER},
            "chars_saved_fraction": 1.0,
            "warm_first_token_ms": {"p95": None},
        },
        "peak_rss_bytes": 2 * GB,
        "shown_valid_rate": 1.0,
    }
    rows = {row["target"]: row for row in evaluate(summary)}
    verdicts = {name: row["verdict"] for name, row in rows.items()}
    assert verdicts["first token (corpus p95)"] == "PASS"
    assert verdicts["memory (peak RSS)"] == "PASS" and verdicts["peak RSS"] == "FAIL"
    assert verdicts["syntax-valid completions (corpus)"] == "FAIL"
    assert verdicts["suggestion shown at a typing pause"] == "PASS"
    assert verdicts["pause to suggestion p50"] == "FAIL"
    assert verdicts["pause to suggestion p90"] == "FAIL" and rows["pause to suggestion p90"]["shown"] == "never"
    assert verdicts["chars saved while typing (not below b8fed4f)"] == "PASS"
    assert verdicts["warm first token p95"] == "FAIL (not measured)"
    assert verdicts["shown completions parseable"] == "PASS"
    assert not any("response" in name or "late" in name for name in verdicts)  # empty answers cannot pass a target
