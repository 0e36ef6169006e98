"""The line-completion set: matching, intervals, cut generation and the scoring of one answer."""

from __future__ import annotations

import pytest

from smallcoder_lsp.bench.cuts import LINE, MID, Cut, SourceFile, code_lines, load_sources, make_cuts
from smallcoder_lsp.bench.intervals import bootstrap, wilson
from smallcoder_lsp.bench.lines import score_cut
from smallcoder_lsp.bench.matching import edit_similarity, exact_match, levenshtein
from smallcoder_lsp.bench.metrics import lines_summary
from smallcoder_lsp.bench.records import CutRecord
from smallcoder_lsp.bench.trace import THIRD_PARTY_FILES


def test_exact_match_compares_the_first_line_without_trailing_whitespace():
    assert exact_match("x + 1)  \n    return y", "x + 1)")
    assert exact_match("x + 1)", "x + 1)\t")
    assert not exact_match(" x + 1)", "x + 1)")  # leading whitespace matters
    assert not exact_match("x + 2)", "x + 1)")
    assert not exact_match("", "") and not exact_match("\nfoo", "")


def test_edit_similarity_is_one_minus_normalized_levenshtein():
    assert levenshtein("kitten", "sitting") == 3 and levenshtein("", "abc") == 3 and levenshtein("ab", "ab") == 0
    assert edit_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert edit_similarity("abc\nmore", "abc  ") == 1.0
    assert edit_similarity("", "abc") == 0.0 and edit_similarity("xyz", "abc") == 0.0


def test_wilson_intervals_match_known_values():
    assert wilson(0, 0) is None
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson(300, 400)
    assert lo < 0.75 < hi and hi - lo < 0.1


def test_bootstrap_is_deterministic_and_brackets_the_statistic():
    values = [float(i % 7) for i in range(200)]
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    interval = bootstrap(values, mean)
    assert interval == bootstrap(values, mean)
    lo, hi = interval
    assert lo < mean(values) < hi and hi - lo < 1.0
    assert bootstrap([], mean) is None and bootstrap([1.0], mean) == (1.0, 1.0)


def cut(kind: str, expected: str, suggestion: str, **kw) -> CutRecord:
    record = CutRecord("f:1:0", kind, expected, suggestion=suggestion, **kw)
    record.exact = exact_match(suggestion, expected)
    record.similarity = edit_similarity(suggestion, expected)
    return record


def test_lines_summary_on_hand_made_cuts():
    cuts = [
        cut(MID, "abcd", "abcd", response_ms=100.0, parses=True, no_new_errors=True, compiles=True),
        cut(MID, "abcd", "abce", response_ms=200.0, parses=False, no_new_errors=True, compiles=False),
        cut(LINE, "return x", "", response_ms=1500.0),
        cut(LINE, "pass", "", error="no answer in 60 s"),
    ]
    s = lines_summary(cuts)
    assert s["cuts"] == 4 and s["errors"] == 1
    assert s["exact_match"] == pytest.approx(1 / 4)
    assert s["edit_similarity"] == pytest.approx((1 + 0.75) / 4)
    assert s["parses"] == pytest.approx(1 / 2) and s["no_new_errors"] == 1.0 and s["compiles"] == 0.5
    assert s["empty_fraction"] == pytest.approx(1 / 3)
    assert s["chars_saved"] == 4 and s["chars_saved_fraction"] == pytest.approx(4 / 20)
    assert s["response_ms"] == {"p50": 200.0, "p90": 1500.0} and s["shown_ms"]["p90"] == 200.0
    lo, hi = s["exact_match_ci"]
    assert lo < 0.25 < hi
    assert set(s["by_kind"]) == {MID, LINE} and s["by_kind"][MID]["exact_match"] == 0.5
    assert "by_kind" not in s["by_kind"][MID]


SOURCE = '''"""Module docstring."""

import os


def f(a, b):
    """Doc
    string."""
    # a comment
    text = """inner
lines"""
    return a + b  # trailing


class C:
    x = 1
'''


def test_code_lines_leave_out_blank_comment_and_string_lines():
    lines = SOURCE.split("\n")
    chosen = {lines[i].strip() for i in code_lines(SourceFile("s.py", SOURCE))}
    assert chosen == {"import os", "def f(a, b):", 'text = """inner', "return a + b  # trailing", "class C:", "x = 1"}


def test_cuts_are_deterministic_and_remove_only_the_rest_of_one_line():
    sources = load_sources()
    assert [s.name + ".txt" for s in sources] == list(THIRD_PARTY_FILES)
    cuts = make_cuts(sources, 120)
    assert len(cuts) == 120 and [c.name for c in cuts] == [c.name for c in make_cuts(sources, 120)]
    assert [c.name for c in make_cuts(sources, 120, seed=5)] != [c.name for c in cuts]
    assert {c.kind for c in cuts} == {MID, LINE}
    for c in cuts:
        doc, at, original = c.document, c.cursor, c.source.text
        line_start = doc.rfind("\n", 0, at) + 1
        line_end = doc.find("\n", at)
        # Only the rest of the cut line is gone: putting it back gives the file (up to trailing spaces).
        assert doc[:at] + c.expected + doc[at:] == original or original.split("\n")[c.line].endswith(" ")
        assert c.expected and c.expected == c.expected.rstrip()
        assert doc[at:].startswith("\n") or at == len(doc)  # nothing left after the cursor on its line
        typed = doc[line_start:at]
        if c.kind == LINE:
            assert not typed.strip()  # only the indentation
        else:
            assert typed.strip() and line_end != line_start
    assert len(make_cuts(sources[:1], 10**6)) == len(code_lines(sources[0]))  # at most one cut per line


def test_scoring_a_whole_line_cut_checks_the_match_and_the_syntax_after_insertion():
    source = SourceFile("s.py", "def f(a):\n    if a:\n        return 1\n    return 2\n")
    line_cut = Cut(source, 1, 4, LINE)
    assert line_cut.expected == "if a:" and line_cut.cursor == len("def f(a):\n    ")
    assert line_cut.document == "def f(a):\n    \n        return 1\n    return 2\n"
    good = CutRecord(line_cut.name, line_cut.kind, line_cut.expected, suggestion="if a:")
    score_cut(line_cut, good)
    assert good.exact and good.similarity == 1.0 and good.parses and good.no_new_errors and good.compiles
    # tree-sitter forgives the deeper indentation after a plain statement; Python's parser does not.
    plain = CutRecord(line_cut.name, line_cut.kind, line_cut.expected, suggestion="x = a")
    score_cut(line_cut, plain)
    assert not plain.exact and plain.parses and plain.compiles is False
    broken = CutRecord(line_cut.name, line_cut.kind, line_cut.expected, suggestion="if (a:")
    score_cut(line_cut, broken)
    assert broken.parses is False and broken.no_new_errors is False and broken.compiles is False
    empty = CutRecord(line_cut.name, line_cut.kind, line_cut.expected)
    score_cut(line_cut, empty)
    assert empty.parses is None and empty.similarity == 0.0


def test_cut_kinds_are_drawn_at_about_the_mid_share():
    sources = load_sources()
    cuts = make_cuts(sources, 400)
    share = sum(1 for c in cuts if c.kind == MID) / len(cuts)
    assert 0.35 < share < 0.6
