"""How long a cold automatic request takes to its first line, and how often that line is right, per cold window.

A request whose prompt the KV cache holds nothing of (the first key in a file just opened, a far jump) takes a
shorter prompt window, the longest that prefills within the cold window (``completion/budget.py``). This replays
the bench's line cuts (third-party sources the model has not memorized) one by one into an empty cache, as
automatic requests, once per cold window, and pairs the results cut by cut.

    python bench/cold_window.py [--windows 0.4,0.3,0.25] [--cuts 400] [--out bench/results/cold_window.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from smallcoder_lsp.bench.cuts import LINE_FILES, load_sources, make_cuts
from smallcoder_lsp.completion.engine import Engine
from smallcoder_lsp.config import Config
from smallcoder_lsp.context.extract import NONE
from smallcoder_lsp.decode.cancel import CancelToken


@dataclass(frozen=True)
class Row:
    cut: str
    ms: float
    exact: bool
    prompt: int


def first_line_ms(engine: Engine, uri: str, offset: int) -> tuple[float, str, int]:
    """Into an empty cache: ms until the first line was complete (or the end), the shown first line, prompt tokens."""
    runtime = engine.worker.require_runtime()
    assert runtime.session is not None and runtime.states is not None
    runtime.states.clear()
    runtime.session.reset()
    ctx = engine.context_at(uri, offset)
    started, first = time.perf_counter(), None

    def on_text(text: str) -> None:
        nonlocal first
        if first is None and "\n" in text:
            first = time.perf_counter()

    outcome = runtime.generate(uri, ctx, False, CancelToken(), on_text)
    ended = first or time.perf_counter()
    return 1000 * (ended - started), outcome.text.split("\n", 1)[0], outcome.generation.stats.prompt_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--windows", default="0.4,0.3,0.25", help="cold windows to compare, in seconds")
    parser.add_argument("--cuts", type=int, default=400)
    parser.add_argument("--out", type=Path, default=Path("bench/results/cold_window.json"))
    args = parser.parse_args()
    windows = [float(w) for w in args.windows.split(",")]
    engine = Engine(Config())
    assert engine.start().result().state == "ready"
    runtime = engine.worker.require_runtime()
    rows: dict[float, list[Row]] = {w: [] for w in windows}
    for i, cut in enumerate(make_cuts(load_sources(LINE_FILES), args.cuts)):
        uri = f"file:///cold/{i}.py"
        engine.documents.open(uri, "python", 1, cut.document)
        offset = len(cut.document[: cut.cursor].encode())
        if engine.context_at(uri, offset).mode != NONE:
            expected = cut.expected.split("\n", 1)[0]
            for window in windows:
                runtime.cold_window_s = window
                ms, line, prompt = first_line_ms(engine, uri, offset)
                rows[window].append(Row(cut.name, ms, bool(line) and line == expected, prompt))
        engine.documents.close(uri)
    engine.shutdown(wait=True)
    reference = rows[windows[0]]
    summary = {}
    for window, got in rows.items():
        times = sorted(r.ms for r in got)
        summary[str(window)] = {
            "cuts": len(got),
            "exact": sum(r.exact for r in got) / len(got),
            "first_line_ms": {"p50": statistics.median(times), "p90": times[int(0.9 * len(times))]},
            "prompt_tokens_mean": statistics.fmean(r.prompt for r in got),
            f"exact_only_at_{windows[0]}": sum(a.exact and not b.exact for a, b in zip(reference, got, strict=True)),
            "exact_only_here": sum(b.exact and not a.exact for a, b in zip(reference, got, strict=True)),
        }
    report = {
        "machine": platform.processor() or platform.machine(),
        "summary": summary,
        "rows": {str(w): [asdict(r) for r in got] for w, got in rows.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
