"""The line-completion stage: each cut goes to the server as one request, and its answer is scored.

One document per source file stays open while its cuts are asked in line order: it opens with the first cut's
text, each later cut replaces the whole text (``didChange``), and each gets one inline-completion request at its
cursor: automatic (held as an editor's would be) or, with ``invoked``, an explicit one that waits for the
finished suggestion.
"""

from __future__ import annotations

import ast
import asyncio
import time
from collections.abc import Callable
from itertools import groupby

from smallcoder_lsp.bench.cuts import Cut
from smallcoder_lsp.bench.lsp_client import LspClient, ServerGone
from smallcoder_lsp.bench.matching import edit_similarity, exact_match
from smallcoder_lsp.bench.records import CutRecord
from smallcoder_lsp.bench.replay import StatsTracker, lsp_position, suggestion_of
from smallcoder_lsp.context.syntax import error_count

CUT_TIMEOUT = 60.0


async def ask_cut(
    client: LspClient, cut: Cut, uri: str, version: int, invoked: bool, tracker: StatsTracker
) -> CutRecord:
    record = CutRecord(cut.name, cut.kind, cut.expected)
    document, cursor = cut.document, cut.cursor
    started, request_id = time.perf_counter(), None
    try:
        if version == 1:
            client.open(uri, document)
        else:
            client.replace(uri, version, document)
        request_id, future = client.inline(uri, *lsp_position(document, cursor), invoked=invoked)
        result = await asyncio.wait_for(future, CUT_TIMEOUT)
        record.response_ms = 1000 * (time.perf_counter() - started)
        record.suggestion = suggestion_of(result, document[document.rfind("\n", 0, cursor) + 1 : cursor])
        record.stats, record.source = await tracker.fetch(client)
    except asyncio.TimeoutError:
        record.error = f"no answer in {CUT_TIMEOUT:.0f} s"
        if request_id is not None and not client.gone_reason:
            client.cancel(request_id)  # the next cut must not queue behind it
    except (ServerGone, RuntimeError) as exc:
        record.error = str(exc)
    return record


def errors_with(document: str, cursor: int, text: str) -> int | None:
    return error_count("python", document[:cursor] + text + document[cursor:])


def score_cut(cut: Cut, record: CutRecord) -> None:
    """Exact match, edit similarity and syntax after insertion, in place (syntax only for a shown suggestion)."""
    record.exact = exact_match(record.suggestion, cut.expected)
    record.similarity = edit_similarity(record.suggestion, cut.expected)
    raw = str(record.stats.pop("raw_text", "")) if record.stats else ""
    document, cursor = cut.document, cut.cursor
    if raw.strip():
        before, after = errors_with(document, cursor, ""), errors_with(document, cursor, raw)
        record.raw_valid = None if before is None or after is None else after <= before
    if not record.suggestion:
        return
    original = error_count("python", cut.source.text)
    cut_errors, after = errors_with(document, cursor, ""), errors_with(document, cursor, record.suggestion)
    if original is not None and after is not None:
        record.parses = after <= original
    if cut_errors is not None and after is not None:
        record.no_new_errors = after <= cut_errors
    if python_parses(cut.source.text):
        record.compiles = python_parses(document[:cursor] + record.suggestion + document[cursor:])


def python_parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


async def run_cuts(client: LspClient, cuts: list[Cut], invoked: bool, on_cut: Callable[[str], None]) -> list[CutRecord]:
    tracker = StatsTracker()
    records: list[CutRecord] = []
    for i, (source, group) in enumerate(groupby(cuts, key=lambda c: c.source)):
        uri = f"file:///smallcoder-bench/lines/{i}-{source.name}"
        for version, cut in enumerate(group, 1):
            if client.gone_reason:
                record = CutRecord(cut.name, cut.kind, cut.expected, error=client.gone_reason)
            else:
                record = await ask_cut(client, cut, uri, version, invoked, tracker)
            # Parsing whole files takes a while: off the loop, so the client keeps reading the server.
            await asyncio.get_running_loop().run_in_executor(None, score_cut, cut, record)
            records.append(record)
            on_cut(cut.name)
        if not client.gone_reason:
            client.close_document(uri)
    return records
