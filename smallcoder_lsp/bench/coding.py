"""The coding corpus through the server: one invoked completion per task, then syntax, keywords and tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from smallcoder_lsp.bench.corpus import CorpusError, Task, keyword_score, load_task
from smallcoder_lsp.bench.docstrings import CATEGORY as DOCSTRING_CATEGORY
from smallcoder_lsp.bench.docstrings import document_task
from smallcoder_lsp.bench.lsp_client import LspClient, ServerGone
from smallcoder_lsp.bench.records import TaskRecord
from smallcoder_lsp.bench.replay import StatsTracker, lsp_position, suggestion_of
from smallcoder_lsp.bench.sandbox import run_python
from smallcoder_lsp.context.syntax import error_count

TASK_TIMEOUT = 60.0
TEST_TIMEOUT = 10.0


def parses(source: str) -> bool | None:
    count = error_count("python", source)
    return None if count is None else count == 0


async def complete_task(client: LspClient, task: Task, tracker: StatsTracker) -> TaskRecord:
    record = TaskRecord(task.name, task.category, task.level, has_tests=bool(task.tests))
    uri = f"file:///smallcoder-bench/corpus/{task.name}.py"
    document = task.document()
    client.open(uri, document)
    started = time.perf_counter()
    try:
        _, future = client.inline(uri, *lsp_position(document, len(task.prompt)), invoked=True)
        result = await asyncio.wait_for(future, TASK_TIMEOUT)
        record.response_ms = 1000 * (time.perf_counter() - started)
        line_start = task.prompt.rfind("\n") + 1
        record.shown = suggestion_of(result, task.prompt[line_start:])
        record.stats, _ = await tracker.fetch(client)
    except asyncio.TimeoutError:
        record.error = f"no answer in {TASK_TIMEOUT:.0f} s"
    except (ServerGone, RuntimeError) as exc:
        record.error = str(exc)
    finally:
        if not client.gone_reason:
            client.close_document(uri)
    if record.stats is not None:
        record.raw = str(record.stats.pop("raw_text", ""))
    if task.category == DOCSTRING_CATEGORY and not client.gone_reason:
        try:
            parses_, covered, why = await asyncio.wait_for(
                document_task(client, task, uri.replace(".py", "-command.py")), TASK_TIMEOUT
            )
        except asyncio.TimeoutError:
            parses_, covered, why = None, None, f"no docstring in {TASK_TIMEOUT:.0f} s"
        record.docstring_parses, record.docstring_params_covered = parses_, covered
        if why:
            record.reason = f"docstring command: {why}"
    return record


def score_task(task: Task, record: TaskRecord) -> None:
    """Syntax of the raw and the shown completion in place, keyword score, and the tests (in the sandbox)."""
    if record.error:
        record.reason = record.error
        return
    # Nothing shown is nothing to check (as in the typing replay).
    record.shown_valid = parses(task.prompt + record.shown + task.suffix) if record.shown else None
    record.raw_valid = parses(task.prompt + record.raw + task.suffix) if record.raw.strip() else None
    record.keyword_score = keyword_score(task, record.shown)
    if task.tests:
        result = run_python(task.program(record.shown), timeout=TEST_TIMEOUT)
        record.passed, record.reason = result.passed, result.reason


def failed_task(path: Path, reason: str) -> TaskRecord:
    return TaskRecord(path.stem, "?", "?", error=reason, reason=reason)


async def run_corpus(client: LspClient, paths: list[Path], on_task: Callable[[str], None]) -> list[TaskRecord]:
    tracker = StatsTracker()
    records = []
    for path in paths:
        try:
            task = load_task(path)
        except CorpusError as exc:
            records.append(failed_task(path, str(exc)))
            on_task(path.stem)
            continue
        if client.gone_reason:
            record = TaskRecord(task.name, task.category, task.level, error=client.gone_reason)
        else:
            record = await complete_task(client, task, tracker)
        # The sandbox blocks; run it off the loop so the client keeps reading the server.
        await asyncio.get_running_loop().run_in_executor(None, score_task, task, record)
        records.append(record)
        on_task(task.name)
    return records
