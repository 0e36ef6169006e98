"""The bench's outputs: tables on the terminal, ``results.json`` and ``report.md``."""

from __future__ import annotations

import json
import math
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
    "acceptance_fraction",
    "chars_saved_fraction",
    "reuse_ratio",
    "drafts_taken",
    "shown_at_pause",
    "right_at_pause",
    "shown_before_next_key",
    "answered_before_next_key",
    "type_through_fraction",
    "exact_match",
    "edit_similarity",
    "parses",
    "no_new_errors",
    "compiles",
)


def fmt(value: Any, key: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, dict):  # quantiles
        return " / ".join(fmt(v) for v in value.values())
    if isinstance(value, (list, tuple)):  # an interval
        return "–".join(fmt(v, key) for v in value)
    if value == math.inf:
        return "never"
    if key in PERCENT_KEYS:
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def fmt_ci(summary: dict[str, Any], key: str) -> str:
    """A figure, with its 95% interval in brackets when the summary has one."""
    value, interval = summary.get(key), summary.get(f"{key}_ci")
    if isinstance(interval, dict) and isinstance(value, dict):  # quantiles, each with an interval
        parts = [f"{fmt(value.get(q))} [{fmt(i)}]" if i else fmt(value.get(q)) for q, i in interval.items()]
        return " / ".join(parts)
    return f"{fmt(value, key)} [{fmt(interval, key)}]" if interval else fmt(value, key)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool = False) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


TYPING_ROWS = (
    "pauses",
    "shown_at_pause",
    "pause_ms",
    "right_at_pause",
    "keys",
    "shown_before_next_key",
    "answered_before_next_key",
    "type_through_fraction",
    "requests",
    "response_ms",
    "first_token_ms",
    "warm_first_token_ms",
    "prefill_tok_s",
    "decode_tok_s",
    "drafts_taken",
    "reuse_ratio",
    "empty_fraction",
    "acceptance_fraction",
    "chars_saved",
    "chars_saved_fraction",
    "shown_valid_rate",
    "raw_valid_rate",
)
LINES_ROWS = (
    "cuts",
    "errors",
    "exact_match",
    "edit_similarity",
    "parses",
    "no_new_errors",
    "compiles",
    "empty_fraction",
    "chars_saved",
    "chars_saved_fraction",
    "response_ms",
    "shown_ms",
    "first_token_ms",
    "prefill_tok_s",
    "decode_tok_s",
    "drafts_taken",
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
ROWS = {"typing": TYPING_ROWS, "lines": LINES_ROWS, "corpus": CORPUS_ROWS}
QUANTILE_NOTE = {"typing": "pause: p50 / p90", "lines": "p50 / p90", "corpus": "p50 / p95 / p99"}


def columns(stage: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A stage's figures, then the same split by the origin of the code (typing) or the kind of cut (lines)."""
    split = stage.get("by_origin") or stage["summary"].get("by_kind") or {}
    return [(stage["label"], stage["summary"]), *((f"{stage['label']}: {k}", v) for k, v in split.items())]


def stage_table(result: dict[str, Any], kind: str, markdown: bool) -> str:
    stages = [s for s in result["stages"] if s["kind"] == kind and s["ok"]]
    if not stages:
        return ""
    cols = [c for s in stages for c in columns(s)]
    header = [f"metric (ms: {QUANTILE_NOTE[kind]}; [95% interval])", *(label for label, _ in cols)]
    rows = [[k, *(fmt_ci(summary, k) for _, summary in cols)] for k in ROWS[kind]]
    peak = {s["label"]: s["peak_rss_bytes"] or 0 for s in stages}
    rows.append(["peak RSS (MB)", *(fmt(peak[label] / (1 << 20)) if label in peak else "" for label, _ in cols)])
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


def naive_table(result: dict[str, Any], markdown: bool) -> str:
    rows = []
    for kind, figures in (result.get("naive") or {}).items():
        for key, row in figures.items():
            name = key.split(".")[0]
            ratio = row["ratio"]
            shown_ratio = "n/a" if ratio is None else "never" if ratio == math.inf else f"{ratio:.2f}x"
            rows.append([f"{kind}: {key}", fmt(row["reuse"], name), fmt(row["naive"], name), shown_ratio])
    return table(["figure", "KV reuse", "naive", "naive ÷ reuse"], rows, markdown) if rows else ""


def failures_table(result: dict[str, Any], markdown: bool) -> str:
    rows = [[f["where"], f["reason"][:160].replace("\n", " ").replace("|", "/")] for f in result["failures"]]
    return table(["failed", "reason"], rows, markdown) if rows else ""


def sections(result: dict[str, Any], markdown: bool) -> list[tuple[str, str]]:
    return [
        ("Targets", targets_table(result, markdown)),
        ("Typing replay (pauses and keystrokes)", stage_table(result, "typing", markdown)),
        ("Line completion (third-party code)", stage_table(result, "lines", markdown)),
        ("Coding corpus", stage_table(result, "corpus", markdown)),
        ("Per category (first corpus stage)", category_table(result, markdown)),
        ("Naive baseline (fresh KV cache per request, answers only when finished) beside KV reuse",
         naive_table(result, markdown)),
        ("Failed rows", failures_table(result, markdown)),
    ]  # fmt: skip


def terminal_report(result: dict[str, Any]) -> str:
    parts = [
        f"smallcoder-lsp bench — {result['settings']['mode']} run, model {result['model']}, {result['wall_s']:.0f} s"
    ]
    for title, body in sections(result, False):
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
    for title, body in sections(result, True):
        if body:
            out += ["", f"## {title}", "", body]
    out += ["", "## Plots", ""]
    out += [f"![{Path(p).stem}]({Path(p).name})" for p in plots] or [plot_note]
    return "\n".join(out) + "\n"


def json_ready(value: Any) -> Any:
    """Infinite times ("never") as the string ``never``: JSON has no infinity."""
    if isinstance(value, float) and math.isinf(value):
        return "never"
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def write_outputs(result: dict[str, Any], out_dir: Path, plots: Sequence[str], plot_note: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "results.json", out_dir / "report.md"
    json_path.write_text(json.dumps(json_ready(result), indent=1, default=str) + "\n", encoding="utf-8")
    md_path.write_text(markdown_report(result, plots, plot_note), encoding="utf-8")
    return [json_path, md_path, *(Path(p) for p in plots)]
