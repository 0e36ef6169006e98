"""`smallcoder-lsp bench --quick` runs end to end on the real model and writes a well-formed report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from smallcoder_lsp.bench.targets import TARGETS

pytestmark = pytest.mark.model


def test_quick_bench_writes_its_report(tmp_path):
    out = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, "-m", "smallcoder_lsp", "bench", "--quick", "--out", str(out), "--no-plots"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((out / "results.json").read_text())
    assert {s["label"] for s in result["stages"]} == {"corpus/auto/reuse", "typing/auto/reuse", "lines/auto/reuse"}
    assert all(s["ok"] for s in result["stages"]), result["failures"]
    corpus = next(s for s in result["stages"] if s["kind"] == "corpus")
    assert len(corpus["records"]) == len(result["settings"]["tasks"]) == 4
    assert set(corpus["summary"]) >= {"pass_at_1", "shown_valid_rate", "keyword_score", "first_token_ms"}
    typing = next(s for s in result["stages"] if s["kind"] == "typing")
    assert typing["summary"]["requests"] == len(typing["records"]) > 0
    assert typing["summary"]["pauses"] == sum(1 for r in typing["records"] if r["pause_s"] > 0) > 0
    assert set(typing["by_origin"]) == {"stdlib", "third-party"}
    assert typing["peak_rss_bytes"] > 0
    lines = next(s for s in result["stages"] if s["kind"] == "lines")
    assert lines["summary"]["cuts"] == len(lines["records"]) == result["settings"]["line_cuts"] == 8
    assert set(lines["summary"]) >= {"exact_match", "exact_match_ci", "edit_similarity", "parses", "response_ms"}
    assert [t["target"] for t in result["targets"]] == [t.name for t in TARGETS]
    assert all(t["verdict"].startswith(("PASS", "FAIL")) for t in result["targets"])
    assert result["machine"]["cores"] and result["commit"]
    report = (out / "report.md").read_text()
    assert "## Targets" in report and "## Line completion" in report and "Plots skipped" in report
    assert "== Targets ==" in done.stdout and "typing (reuse)" in done.stderr and "lines (reuse)" in done.stderr


def test_stages_can_be_chosen_and_line_cuts_asked_with_invoked_requests(tmp_path):
    out = tmp_path / "bench"
    command = [sys.executable, "-m", "smallcoder_lsp", "bench", "--stages", "lines", "--cuts", "3", "--invoked"]
    done = subprocess.run([*command, "--out", str(out), "--no-plots"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((out / "results.json").read_text())
    assert [s["label"] for s in result["stages"]] == ["lines/auto/reuse", "lines/auto/naive"]
    assert result["settings"]["invoked_lines"] and set(result["naive"]) == {"lines"}
    names = [r["name"] for r in result["stages"][0]["records"]]
    for stage in result["stages"]:
        assert stage["ok"] and [r["name"] for r in stage["records"]] == names
        for record in stage["records"]:
            assert not record["error"] and record["response_ms"] > 0
            assert record["exact"] == (record["similarity"] == 1.0 and bool(record["suggestion"].strip()))
            assert (record["parses"] is None) == (not record["suggestion"])
