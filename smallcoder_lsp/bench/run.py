"""``smallcoder-lsp bench``: plan the stages, run each in its own server, summarize, check targets, write reports."""

from __future__ import annotations

import asyncio
import datetime
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smallcoder_lsp import __version__
from smallcoder_lsp.bench import metrics
from smallcoder_lsp.bench.corpus import QUICK_TASKS, CorpusError, task_paths
from smallcoder_lsp.bench.plots import write_plots
from smallcoder_lsp.bench.records import StageResult, to_plain
from smallcoder_lsp.bench.report import terminal_report, write_outputs
from smallcoder_lsp.bench.stages import Plan, run_stage
from smallcoder_lsp.bench.targets import evaluate
from smallcoder_lsp.bench.trace import TYPING_FILES, load_sessions

FULL_TYPING_KEYS, QUICK_TYPING_KEYS = 1200, 120
QUICK_TYPING_FILES = ("colorsys.py.txt",)


@dataclass(frozen=True)
class BenchOptions:
    quick: bool = False
    out: Path = Path("smallcoder-bench")
    pace_ms: float = 120.0
    baseline: str = ""
    """``naive`` adds a typing replay with a fresh KV cache per request; empty: none."""
    backends: tuple[str, ...] = ("auto",)
    model: str | None = None
    threads: int | None = None
    plots: bool = True
    server_command: tuple[str, ...] | None = None


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    memory_kb = 0
    try:
        cpu = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            cpu,
        )
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_kb / (1 << 20),
        "load_start": _load(),
    }


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def commit_id() -> str:
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return f"unknown (installed {__version__})"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else f"unknown (installed {__version__})"


def make_plan(options: BenchOptions) -> tuple[Plan, list[dict[str, str]]]:
    """The work to do; corpus problems found while planning become failed rows."""
    failures: list[dict[str, str]] = []
    try:
        sessions = (
            load_sessions(QUICK_TYPING_KEYS, QUICK_TYPING_FILES)
            if options.quick
            else load_sessions(FULL_TYPING_KEYS, TYPING_FILES)
        )
    except CorpusError as exc:
        sessions = []
        failures.append({"where": "typing corpus", "reason": str(exc)})
    paths = task_paths(QUICK_TASKS if options.quick else None)
    plan = Plan(
        options.pace_ms / 1000, tuple(paths), tuple(sessions), options.model, options.threads, options.server_command
    )
    return plan, failures


def plan_stages(options: BenchOptions, plan: Plan) -> list[StageResult]:
    stages = []
    for backend in options.backends:
        stages.append(StageResult("corpus", backend))
        if plan.sessions:
            stages.append(StageResult("typing", backend))
    if options.baseline == "naive" and plan.sessions:
        stages.append(StageResult("typing", options.backends[0], mode="naive"))
    return stages


def stage_document(stage: StageResult, plan: Plan) -> dict[str, Any]:
    doc = {k: v for k, v in to_plain(stage).items() if k not in ("requests", "tasks")}
    doc["label"] = stage.label
    if stage.kind == "typing":
        doc["summary"] = metrics.typing_summary(stage.requests, plan.body_chars)
        doc["latencies_ms"] = [r.latency_ms for r in stage.requests if r.latency_ms is not None]
        doc["records"] = to_plain(stage.requests)
    else:
        doc["summary"] = metrics.corpus_summary(stage.tasks)
        doc["by_category"] = metrics.by_category(stage.tasks)
        doc["records"] = to_plain(stage.tasks)
    return doc


def primary_summary(stages: list[StageResult], docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures the targets are checked on: the first backend, with KV reuse."""
    backend = stages[0].backend if stages else ""
    mine = [(s, d) for s, d in zip(stages, docs, strict=True) if s.backend == backend and s.mode == "reuse" and s.ok]
    summary: dict[str, Any] = {d["kind"]: d["summary"] for _, d in mine}
    rss = [s.peak_rss_bytes for s, _ in mine if s.peak_rss_bytes]
    summary["peak_rss_bytes"] = max(rss) if rss else None
    flags = [t.shown_valid for s, _ in mine for t in s.tasks] + [r.shown_valid for s, _ in mine for r in s.requests]
    known = [f for f in flags if f is not None]
    summary["shown_valid_rate"] = sum(known) / len(known) if known else None
    return summary


def failures_of(stages: list[StageResult]) -> list[dict[str, str]]:
    rows = [{"where": s.label, "reason": s.reason} for s in stages if not s.ok]
    rows += [{"where": f"{s.label}/{t.name}", "reason": t.error} for s in stages for t in s.tasks if t.error]
    return rows


def naive_ratio(docs: list[dict[str, Any]]) -> dict[str, float | None] | None:
    typing = [d for d in docs if d["kind"] == "typing" and d["ok"]]
    naive = next((d for d in typing if d["mode"] == "naive"), None)
    reuse = next((d for d in typing if d["mode"] == "reuse" and naive and d["backend"] == naive["backend"]), None)
    return metrics.compare(naive["summary"], reuse["summary"]) if naive and reuse else None


async def run_all(stages: list[StageResult], plan: Plan) -> None:
    for stage in stages:
        print(f"-- {stage.label}", file=sys.stderr, flush=True)
        await run_stage(stage, plan)
        if not stage.ok:
            print(f"-- {stage.label} failed: {stage.reason}", file=sys.stderr, flush=True)


def run_bench(options: BenchOptions) -> int:
    """Run the bench and write its reports; 0 when at least one stage ran, else 1."""
    started, machine = time.perf_counter(), machine_info()
    started_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    plan, failures = make_plan(options)
    stages = plan_stages(options, plan)
    asyncio.run(run_all(stages, plan))
    docs = [stage_document(s, plan) for s in stages]
    machine["load_end"] = _load()
    result: dict[str, Any] = {
        "version": __version__,
        "commit": commit_id(),
        "started": started_at,
        "wall_s": time.perf_counter() - started,
        "machine": machine,
        "model": next((s.model for s in stages if s.model), options.model or "embedded default"),
        "settings": {
            "mode": "quick" if options.quick else "full",
            "pace_ms": options.pace_ms,
            "baseline": options.baseline or "none",
            "backends": list(options.backends),
            "model": options.model,
            "threads": options.threads,
            "typing_sessions": [s.name for s in plan.sessions],
            "tasks": [p.stem for p in plan.task_paths],
        },
        "stages": docs,
        "failures": failures + failures_of(stages),
    }
    result["primary"] = primary_summary(stages, docs)
    result["targets"] = evaluate(result["primary"])
    result["naive_ratio"] = naive_ratio(docs)
    plots, note = write_plots(result, options.out) if options.plots else ([], "Plots skipped (--no-plots).")
    written = write_outputs(result, options.out, plots, note)
    print(terminal_report(result))
    if note:
        print(note)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0 if any(s.ok for s in stages) else 1
