"""Completion quality on the coding corpus, for servers built from different source trees or settings.

Issue 3's figure: pass@1 (tests run in the bench sandbox) on the corpus tasks that have tests, syntax-valid
rate of what was shown, and keyword score: before the tree-sitter context work (a source tree given with
--before), after it, and after it with reranking of sampled candidates by the following lines.

    python bench/context_quality.py --before /path/to/old/checkout --out bench/results
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from smallcoder_lsp.bench.coding import run_corpus
from smallcoder_lsp.bench.corpus import task_paths
from smallcoder_lsp.bench.lsp_client import LspClient, server_command
from smallcoder_lsp.bench.stages import CORPUS_OPTIONS


async def run_variant(name: str, source: Path | None, extra: dict[str, Any]) -> dict[str, Any]:
    env_before = os.environ.get("PYTHONPATH")
    if source is not None:
        os.environ["PYTHONPATH"] = str(source)
    client = LspClient(server_command())
    try:
        await client.start()
    finally:
        if source is not None:
            os.environ.pop("PYTHONPATH") if env_before is None else os.environ.update(PYTHONPATH=env_before)
    options = {**CORPUS_OPTIONS, "completion": {**CORPUS_OPTIONS["completion"], "timeoutMs": 60_000, **extra}}
    await client.initialize(options)
    started = time.perf_counter()
    records = await run_corpus(client, task_paths(), lambda task: print(f"  {name}: {task}", flush=True))
    await client.close()
    tested = [r for r in records if r.has_tests]
    shown = [r for r in records if r.shown]
    return {
        "variant": name,
        "tasks": len(records),
        "tasks_with_tests": len(tested),
        "pass_at_1": sum(1 for r in tested if r.passed) / len(tested),
        "shown": len(shown),
        "shown_syntax_valid": sum(1 for r in shown if r.shown_valid) / max(1, len(shown)),
        "keyword_score": statistics.mean(r.keyword_score or 0.0 for r in records),
        "seconds": round(time.perf_counter() - started, 1),
        "passed": sorted(r.name for r in tested if r.passed),
    }


async def main_async(before: Path | None, out: Path) -> None:
    variants: list[tuple[str, Path | None, dict[str, Any]]] = []
    if before is not None:
        variants.append(("before (foundation context)", before, {}))
    variants += [
        ("after (tree-sitter context)", None, {}),
        ("after + rerank of 4 candidates", None, {"rerankCandidates": 4}),
    ]
    results = [await run_variant(*variant) for variant in variants]
    out.mkdir(parents=True, exist_ok=True)
    (out / "context_quality.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "| variant | pass@1 (tasks with tests) | shown | shown syntax-valid | keyword score |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['variant']} | {r['pass_at_1']:.1%} ({len(r['passed'])}/{r['tasks_with_tests']}) | "
            f"{r['shown']}/{r['tasks']} | {r['shown_syntax_valid']:.1%} | {r['keyword_score']:.1%} |"
        )
    (out / "context_quality.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="source tree of the server before the change")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    asyncio.run(main_async(args.before, args.out))


if __name__ == "__main__":
    main()
