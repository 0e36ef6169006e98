"""``smallcoder-lsp bench``: plan the stages, run each in its own server, summarize, check targets, write reports."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smallcoder_lsp import __version__
from smallcoder_lsp.bench import metrics
from smallcoder_lsp.bench.corpus import QUICK_TASKS, CorpusError, task_paths
from smallcoder_lsp.bench.cuts import FULL_CUTS, LINE_FILES, QUICK_CUTS, Cut, load_sources, make_cuts
from smallcoder_lsp.bench.pauses import PauseModel
from smallcoder_lsp.bench.plots import write_plots
from smallcoder_lsp.bench.records import StageResult, to_plain
from smallcoder_lsp.bench.report import terminal_report, write_outputs
from smallcoder_lsp.bench.stages import Plan, run_stage
from smallcoder_lsp.bench.targets import evaluate
from smallcoder_lsp.bench.trace import TYPING_FILES, TypingSession, load_sessions

STAGES = ("corpus", "typing", "lines")
NAIVE_STAGES = ("typing", "lines")
FULL_TYPING_KEYS, QUICK_TYPING_KEYS = 2800, 240
QUICK_TYPING_FILES = ("colorsys.py.txt", "pygls_server.py.txt")
QUICK_LINE_FILES = ("pygls_feature_manager.py.txt",)


@dataclass(frozen=True)
class BenchOptions:
    quick: bool = False
    out: Path = Path("smallcoder-bench")
    pace_ms: float = 120.0
    pause_ms: float = 1000.0
    reach_ms: float = 1000.0
    baseline: str = ""
    """``naive`` adds the typing replay and the line cuts with a fresh KV cache per request; empty: none."""
    backends: tuple[str, ...] = ("auto",)
    model: str | None = None
    models: tuple[str, ...] = ()
    """Models to compare side by side in one run (``tiny``, ``small``, ``medium`` or files), each in its own
    servers; empty: ``model`` alone."""
    threads: int | None = None
    plots: bool = True
    server_command: tuple[str, ...] | None = None
    """Run this server instead of ``smallcoder-lsp serve`` (e.g. an older commit's, to measure a bar)."""
    stages: tuple[str, ...] = STAGES
    cuts: int | None = None
    """How many line cuts (default: 400, 8 with ``quick``)."""
    cut_stride: int = 1
    """Ask every n-th of those cuts only: a subset of exactly the same cuts, for a slow model."""
    invoked: bool = False
    """The line cuts use invoked requests instead of automatic ones."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Server settings (the camelCase tree an editor sends) for every stage; the naive baseline's go on top."""
    busy: int = 0
    """How many other programs keep a core busy each while the stages run (a build beside the editor)."""
    open_others: bool = False
    """The typing replay keeps the other files of each session's project open (see ``Plan.open_others``)."""


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


@contextlib.contextmanager
def busy_programs(count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` processes that each keep a core busy until the block ends."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


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


def _load_work(options: BenchOptions, failures: list[dict[str, str]]) -> tuple[list[TypingSession], list[Cut]]:
    sessions: list[TypingSession] = []
    cuts: list[Cut] = []
    if "typing" in options.stages:
        try:
            files = QUICK_TYPING_FILES if options.quick else TYPING_FILES
            sessions = load_sessions(QUICK_TYPING_KEYS if options.quick else FULL_TYPING_KEYS, files)
        except CorpusError as exc:
            failures.append({"where": "typing corpus", "reason": str(exc)})
    if "lines" in options.stages:
        count = options.cuts if options.cuts is not None else QUICK_CUTS if options.quick else FULL_CUTS
        try:
            cuts = make_cuts(load_sources(QUICK_LINE_FILES if options.quick else LINE_FILES), count)
            cuts = cuts[:: max(1, options.cut_stride)]
        except CorpusError as exc:
            failures.append({"where": "line cuts", "reason": str(exc)})
    return sessions, cuts


def make_plan(options: BenchOptions) -> tuple[Plan, list[dict[str, str]]]:
    """The work to do; corpus problems found while planning become failed rows."""
    failures: list[dict[str, str]] = []
    sessions, cuts = _load_work(options, failures)
    paths = (task_paths(QUICK_TASKS if options.quick else None)) if "corpus" in options.stages else []
    pauses = PauseModel(key_s=options.pace_ms / 1000, pause_s=options.pause_ms / 1000, reach_s=options.reach_ms / 1000)
    plan = Plan(
        pauses,
        tuple(paths),
        tuple(sessions),
        tuple(cuts),
        options.model,
        options.threads,
        options.server_command,
        options.invoked,
        options.settings,
        options.open_others,
    )
    return plan, failures


def has_work(kind: str, plan: Plan) -> bool:
    return bool({"corpus": plan.task_paths, "typing": plan.sessions, "lines": plan.cuts}[kind])


def plan_stages(options: BenchOptions, plan: Plan) -> list[StageResult]:
    kinds = [k for k in STAGES if k in options.stages and has_work(k, plan)]
    models = options.models or ("",)
    stages = [StageResult(k, b, setting=m) for k in kinds for m in models for b in options.backends]
    if options.baseline == "naive":
        stages += [StageResult(k, options.backends[0], "naive", setting=models[0]) for k in kinds if k in NAIVE_STAGES]
    return stages


def stage_document(stage: StageResult, plan: Plan) -> dict[str, Any]:
    doc = {k: v for k, v in to_plain(stage).items() if k not in ("requests", "tasks", "cuts")}
    doc["label"] = stage.label
    if stage.kind == "typing":
        doc["summary"] = metrics.typing_summary(stage.requests, plan.body_chars)
        doc["by_origin"] = metrics.typing_by_origin(stage.requests, plan.body_chars_by_origin)
        doc["pause_ms"] = [r.latency_ms if r.shown else None for r in stage.requests if r.pause_s > 0]
        doc["records"] = to_plain(stage.requests)
    elif stage.kind == "lines":
        doc["summary"] = metrics.lines_summary(stage.cuts)
        doc["records"] = to_plain(stage.cuts)
    else:
        doc["summary"] = metrics.corpus_summary(stage.tasks)
        doc["by_category"] = metrics.by_category(stage.tasks)
        doc["records"] = to_plain(stage.tasks)
    return doc


def primary_summary(stages: list[StageResult], docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures the targets are checked on: the first backend and model, with KV reuse."""
    backend = stages[0].backend if stages else ""
    mine = [(s, d) for s, d in zip(stages, docs, strict=True) if s.backend == backend and s.mode == "reuse" and s.ok]
    first = stages[0].setting if stages else ""
    mine = [(s, d) for s, d in mine if s.setting == first]
    summary: dict[str, Any] = {d["kind"]: d["summary"] for _, d in mine}
    rss = [s.peak_rss_bytes for s, _ in mine if s.peak_rss_bytes]
    summary["peak_rss_bytes"] = max(rss) if rss else None
    flags = [t.shown_valid for s, _ in mine for t in s.tasks] + [r.shown_valid for s, _ in mine for r in s.requests]
    flags += [c.no_new_errors for s, _ in mine for c in s.cuts]
    known = [f for f in flags if f is not None]
    summary["shown_valid_rate"] = sum(known) / len(known) if known else None
    return summary


def failures_of(stages: list[StageResult]) -> list[dict[str, str]]:
    rows = [{"where": s.label, "reason": s.reason} for s in stages if not s.ok]
    rows += [{"where": f"{s.label}/{t.name}", "reason": t.error} for s in stages for t in s.tasks if t.error]
    return rows


def naive_comparison(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per stage kind, the naive baseline beside KV reuse on the same backend."""
    out = {}
    for kind, keys in (("typing", metrics.TYPING_COMPARED), ("lines", metrics.LINES_COMPARED)):
        done = [d for d in docs if d["kind"] == kind and d["ok"]]
        naive = next((d for d in done if d["mode"] == "naive"), None)
        reuse = next((d for d in done if d["mode"] == "reuse" and naive and d["backend"] == naive["backend"]), None)
        if naive and reuse:
            out[kind] = metrics.compare(naive["summary"], reuse["summary"], keys)
    return out


async def run_all(stages: list[StageResult], plan: Plan) -> None:
    for stage in stages:
        print(f"-- {stage.label}", file=sys.stderr, flush=True)
        await run_stage(stage, plan)
        if not stage.ok:
            print(f"-- {stage.label} failed: {stage.reason}", file=sys.stderr, flush=True)


def settings_of(options: BenchOptions, plan: Plan) -> dict[str, Any]:
    return {
        "mode": "quick" if options.quick else "full",
        "pace_ms": options.pace_ms,
        "pause_ms": options.pause_ms,
        "reach_ms": options.reach_ms,
        "pause_model": to_plain(plan.pauses),
        "stages": list(options.stages),
        "invoked_lines": options.invoked,
        "server_settings": options.settings,
        "server_command": list(options.server_command) if options.server_command else None,
        "baseline": options.baseline or "none",
        "backends": list(options.backends),
        "model": options.model,
        "models": list(options.models),
        "threads": options.threads,
        "busy_programs": options.busy,
        "open_others": options.open_others,
        "typing_sessions": [s.name for s in plan.sessions],
        "tasks": [p.stem for p in plan.task_paths],
        "line_cuts": len(plan.cuts),
        "cut_stride": options.cut_stride,
        "line_files": sorted({c.source.name for c in plan.cuts}),
    }


def run_bench(options: BenchOptions) -> int:
    """Run the bench and write its reports; 0 when at least one stage ran, else 1."""
    started, machine = time.perf_counter(), machine_info()
    started_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    plan, failures = make_plan(options)
    stages = plan_stages(options, plan)
    with busy_programs(options.busy):
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
        "settings": settings_of(options, plan),
        "stages": docs,
        "failures": failures + failures_of(stages),
    }
    result["primary"] = primary_summary(stages, docs)
    result["targets"] = evaluate(result["primary"])
    result["naive"] = naive_comparison(docs)
    plots, note = write_plots(result, options.out) if options.plots else ([], "Plots skipped (--no-plots).")
    written = write_outputs(result, options.out, plots, note)
    print(terminal_report(result))
    if note:
        print(note)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0 if any(s.ok for s in stages) else 1
