"""One stage of the bench: a fresh server process, the coding corpus, a typing replay or the line cuts, then it
is shut down."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smallcoder_lsp.backends import BACKENDS
from smallcoder_lsp.bench.coding import run_corpus
from smallcoder_lsp.bench.cuts import Cut
from smallcoder_lsp.bench.lines import run_cuts
from smallcoder_lsp.bench.lsp_client import LspClient, ServerGone, server_command
from smallcoder_lsp.bench.pauses import PauseModel
from smallcoder_lsp.bench.progress import Progress
from smallcoder_lsp.bench.records import RequestRecord, StageResult
from smallcoder_lsp.bench.replay import Typist
from smallcoder_lsp.bench.trace import TypingSession, neighbours
from smallcoder_lsp.context.syntax import error_count

# The corpus asks for whole function bodies, so it allows longer completions than typing does.
CORPUS_OPTIONS: dict[str, Any] = {"completion": {"maxLines": 16, "multilineMaxTokens": 192}}


@dataclass(frozen=True)
class Plan:
    pauses: PauseModel
    task_paths: tuple[Path, ...]
    sessions: tuple[TypingSession, ...]
    cuts: tuple[Cut, ...] = ()
    model: str | None = None
    threads: int | None = None
    command: tuple[str, ...] | None = None
    """Run this instead of ``smallcoder-lsp serve`` (another build of the server; tests stand in a crashing one)."""
    invoked: bool = False
    """The line cuts ask with invoked requests (wait for the finished suggestion) instead of automatic ones."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Server settings for every stage (``bench --settings``)."""
    open_others: bool = False
    """The typing replay keeps the other files of each session's project open beside it (``bench --open-others``):
    definitions from them may go into the prompt."""

    @property
    def body_chars(self) -> int:
        return sum(len(s.body) for s in self.sessions)

    @property
    def body_chars_by_origin(self) -> dict[str, int]:
        chars: dict[str, int] = {}
        for s in self.sessions:
            chars[s.origin] = chars.get(s.origin, 0) + len(s.body)
        return chars


def file_size(path: str) -> int | None:
    try:
        return Path(path).stat().st_size if path else None
    except OSError:
        return None


def inserted_is_valid(record: RequestRecord, text: str) -> bool | None:
    """Whether inserting ``text`` at the request's cursor adds no syntax error to the document."""
    doc, at = record.document, record.cursor
    before = error_count("python", doc)
    after = error_count("python", doc[:at] + text + doc[at:])
    return None if before is None or after is None else after <= before


def score_requests(records: list[RequestRecord]) -> None:
    for record in records:
        if record.suggestion:
            record.shown_valid = inserted_is_valid(record, record.suggestion)
        if record.stats is not None:
            raw = str(record.stats.pop("raw_text", ""))
            if raw.strip():
                record.raw_valid = inserted_is_valid(record, raw)


async def _type_all(client: LspClient, stage: StageResult, plan: Plan) -> None:
    started = time.perf_counter()
    typist = Typist(client, plan.pauses, lambda: time.perf_counter() - started)
    progress = Progress(f"typing ({stage.mode})", sum(len(s.keystrokes) for s in plan.sessions))
    try:
        for i, session in enumerate(plan.sessions):
            uri = f"file:///smallcoder-bench/typing/{i}-{session.name.replace(':', '-')}"
            neighbouring = neighbours(session) if plan.open_others else []  # read only when they are opened
            others = [(f"file:///smallcoder-bench/others/{name}", text) for name, text in neighbouring]
            for other, text in others:
                client.open(other, text)
            await typist.type_session(session, uri, functools.partial(progress.tick, session.name))
            for other, _ in others:
                client.close_document(other)
    finally:
        await typist.settle()
        stage.requests = typist.records
        score_requests(stage.requests)
    progress.finish(f"{len(stage.requests)} requests")


async def _run_corpus(client: LspClient, stage: StageResult, plan: Plan) -> None:
    progress = Progress("corpus", len(plan.task_paths))
    stage.tasks = await run_corpus(client, list(plan.task_paths), progress.tick)
    passed = sum(1 for t in stage.tasks if t.passed)
    progress.finish(f"{passed}/{len(stage.tasks)} passed their tests")


async def _run_lines(client: LspClient, stage: StageResult, plan: Plan) -> None:
    progress = Progress(f"lines ({stage.mode})", len(plan.cuts))
    stage.cuts = await run_cuts(client, list(plan.cuts), plan.invoked, progress.tick)
    exact = sum(1 for c in stage.cuts if c.exact)
    progress.finish(f"{exact}/{len(stage.cuts)} exact")


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` on top, section by section (a new tree; neither is changed)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


RUNNERS = {"corpus": _run_corpus, "typing": _type_all, "lines": _run_lines}


async def run_stage(stage: StageResult, plan: Plan) -> StageResult:
    """Run ``stage`` in a new server; any failure is written into the stage, and the server never outlives it."""
    if stage.backend not in BACKENDS and stage.backend != "auto":
        stage.fail(f"unknown backend '{stage.backend}' (installed: {', '.join(BACKENDS)})")
        return stage
    command = list(plan.command or server_command(stage.setting or plan.model, stage.backend, plan.threads))
    options = merged(plan.settings, CORPUS_OPTIONS if stage.kind == "corpus" else {})
    if stage.mode == "naive":
        # What the failed attempts did: a fresh context per request, and an answer only when it is finished.
        naive = {"reuseCache": False, "holdMs": 60_000, "blockWaitMs": 60_000, "prefetch": False}
        options = merged(options, {"completion": naive})
    client = LspClient(command)
    started = time.perf_counter()
    try:
        await client.start()
        status = await client.initialize(options)
        stage.model = str(status.get("model", ""))
        stage.model_bytes = file_size(str(status.get("modelPath", "")))
        if status.get("state") != "ready":
            stage.fail(f"the server is not ready: {status.get('message') or status.get('state')}")
            return stage
        await RUNNERS[stage.kind](client, stage, plan)
        stage.peak_rss_bytes = client.peak_rss_bytes()
    except ServerGone as exc:
        stage.fail(str(exc))
    except OSError as exc:
        stage.fail(f"cannot run the server: {exc}")
    finally:
        await client.close()
        stage.wall_s = time.perf_counter() - started
    if client.gone_reason:
        stage.fail(client.gone_reason)
    return stage
