"""The bench's outputs: a table on the terminal, ``results.json`` and ``report.md``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PERCENT_KEYS = (
    "pass_at_1",
    "docstring_parses_rate",
    "docstring_params_covered",
    "shown_valid_rate",
    "raw_valid_rate",
    "keyword_score",
    "empty_fraction",
    "late_fraction",
    "acceptance_fraction",
    "chars_saved_fraction",
    "reuse_ratio",
)


def fmt(value: Any, key: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, dict):  # quantiles
        return " / ".join(fmt(value.get(q)) for q in ("p50", "p95", "p99"))
    if key in PERCENT_KEYS:
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool = False) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


TYPING_ROWS = (
    "requests",
    "response_ms",
    "first_token_ms",
    "warm_first_token_ms",
    "prefill_tok_s",
    "decode_tok_s",
    "reuse_ratio",
    "late_fraction",
    "empty_fraction",
    "acceptance_fraction",
    "chars_saved",
    "chars_saved_fraction",
    "shown_valid_rate",
    "raw_valid_rate",
)
CORPUS_ROWS = (
    "tasks",
    "errors",
    "pass_at_1",
    "shown_valid_rate",
    "raw_valid_rate",
    "keyword_score",
    "docstring_parses_rate",
    "docstring_params_covered",
    "empty_fraction",
    "response_ms",
    "first_token_ms",
    "prefill_tok_s",
    "decode_tok_s",
)


def stage_table(result: dict[str, Any], kind: str, markdown: bool) -> str:
    stages = [s for s in result["stages"] if s["kind"] == kind and s["ok"]]
    if not stages:
        return ""
    keys = TYPING_ROWS if kind == "typing" else CORPUS_ROWS
    header = ["metric (ms: p50 / p95 / p99)", *(s["label"] for s in stages)]
    rows = [[k, *(fmt(s["summary"].get(k), k) for s in stages)] for k in keys]
    rows.append(["peak RSS (MB)", *(fmt((s["peak_rss_bytes"] or 0) / (1 << 20)) for s in stages)])
    return table(header, rows, markdown)


def category_table(result: dict[str, Any], markdown: bool) -> str:
    stage = next((s for s in result["stages"] if s["kind"] == "corpus" and s["ok"]), None)
    if stage is None:
        return ""
    keys = ("tasks", "pass_at_1", "shown_valid_rate", "raw_valid_rate", "keyword_score")
    rows = [
        [c, *(fmt(m.get(k), k) for k in keys), fmt(m["response_ms"]["p50"])] for c, m in stage["by_category"].items()
    ]
    return table(["category", *keys, "response p50 ms"], rows, markdown)


def targets_table(result: dict[str, Any], markdown: bool) -> str:
    rows = [[r["target"], r["source"], r["bar"], r["shown"], r["verdict"]] for r in result["targets"]]
    return table(["target", "from", "bar", "measured", "verdict"], rows, markdown)


def ratio_table(result: dict[str, Any], markdown: bool) -> str:
    ratios = result.get("naive_ratio")
    if not ratios:
        return ""
    rows = [[k, "n/a" if v is None else f"{v:.1f}x"] for k, v in ratios.items()]
    return table(["naive ÷ KV reuse", "ratio"], rows, markdown)


def failures_table(result: dict[str, Any], markdown: bool) -> str:
    rows = [[f["where"], f["reason"][:160].replace("\n", " ").replace("|", "/")] for f in result["failures"]]
    return table(["failed", "reason"], rows, markdown) if rows else ""


def terminal_report(result: dict[str, Any]) -> str:
    parts = [
        f"smallcoder-lsp bench — {result['settings']['mode']} run, model {result['model']}, {result['wall_s']:.0f} s"
    ]
    for title, body in (
        ("Targets", targets_table(result, False)),
        ("Typing replay", stage_table(result, "typing", False)),
        ("Coding corpus", stage_table(result, "corpus", False)),
        ("Per category", category_table(result, False)),
        ("Naive baseline", ratio_table(result, False)),
        ("Failures", failures_table(result, False)),
    ):
        if body:
            parts += ["", f"== {title} ==", body]
    return "\n".join(parts)


def markdown_report(result: dict[str, Any], plots: Sequence[str], plot_note: str) -> str:
    m, s = result["machine"], result["settings"]
    out = [
        "# smallcoder-lsp bench report",
        "",
        f"- version {result['version']}, commit `{result['commit']}`, started {result['started']}, "
        f"wall {result['wall_s']:.0f} s",
        f"- machine: {m['cpu']} ({m['cores']} cores), {m['memory_gb']:.1f} GB, {m['platform']}; "
        f"load average at start {m['load_start']}, at end {m['load_end']}",
        f"- model: {result['model']}; backends: {', '.join(s['backends'])}; baseline: {s['baseline']}",
        f"- settings: {json.dumps(s)}",
        "",
        "Metric definitions: `bench/README.md` in the repository.",
    ]
    for title, body in (
        ("Targets", targets_table(result, True)),
        ("Typing replay", stage_table(result, "typing", True)),
        ("Coding corpus", stage_table(result, "corpus", True)),
        ("Per category (first corpus stage)", category_table(result, True)),
        ("Naive baseline (fresh KV cache per request) relative to KV reuse", ratio_table(result, True)),
        ("Failed rows", failures_table(result, True)),
    ):
        if body:
            out += ["", f"## {title}", "", body]
    out += ["", "## Plots", ""]
    out += [f"![{Path(p).stem}]({Path(p).name})" for p in plots] or [plot_note]
    return "\n".join(out) + "\n"


def write_outputs(result: dict[str, Any], out_dir: Path, plots: Sequence[str], plot_note: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "results.json", out_dir / "report.md"
    json_path.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    md_path.write_text(markdown_report(result, plots, plot_note), encoding="utf-8")
    return [json_path, md_path, *(Path(p) for p in plots)]
