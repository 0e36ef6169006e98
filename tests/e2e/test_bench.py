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
    assert {s["label"] for s in result["stages"]} == {"corpus/auto/reuse", "typing/auto/reuse"}
    assert all(s["ok"] for s in result["stages"]), result["failures"]
    corpus = next(s for s in result["stages"] if s["kind"] == "corpus")
    assert len(corpus["records"]) == len(result["settings"]["tasks"]) == 4
    assert set(corpus["summary"]) >= {"pass_at_1", "shown_valid_rate", "keyword_score", "first_token_ms"}
    typing = next(s for s in result["stages"] if s["kind"] == "typing")
    assert typing["summary"]["requests"] == len(typing["records"]) > 0
    assert typing["peak_rss_bytes"] > 0
    assert [t["target"] for t in result["targets"]] == [t.name for t in TARGETS]
    assert all(t["verdict"].startswith(("PASS", "FAIL")) for t in result["targets"])
    assert result["machine"]["cores"] and result["commit"]
    report = (out / "report.md").read_text()
    assert "## Targets" in report and "Plots skipped" in report
    assert "== Targets ==" in done.stdout and "typing (reuse)" in done.stderr
