"""First-token time right after switching between two open files, with and without per-document KV states.

Two real source files are open; the user alternates between them, typing one character in each before asking
for a completion. Without saved states every switch re-prefills the other file's prompt window; with them the
engine restores the file's KV state and evaluates only the typed character.

    python bench/switch_warmth.py [--rounds 6] [--warmup 2] [--out bench/results/switch_warmth.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from pathlib import Path

from smallcoder_lsp.completion.engine import Engine
from smallcoder_lsp.config import Config

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "smallcoder_lsp" / "config.py", ROOT / "smallcoder_lsp" / "completion" / "engine.py"]


def cursor_after(text: str, min_chars: int) -> int:
    """Byte offset at the end of the first line that ends past ``min_chars``: a full prefix window."""
    end = text.index("\n", min_chars)
    return len(text[:end].encode())


async def run(kv_states_mb: int, rounds: int, warmup: int) -> dict[str, object]:
    engine = Engine(Config(kv_states_mb=kv_states_mb, threads=2))
    assert engine.start().result().state == "ready"
    offsets = {}
    for path in FILES:
        uri = path.as_uri()
        doc = engine.documents.open(uri, "python", 1, path.read_text())
        offsets[uri] = cursor_after(doc.text.decode(), 3500)
    firsts, prompts, reused = [], [], []
    for i in range((warmup + rounds) * len(FILES)):
        uri = FILES[i % len(FILES)].as_uri()
        doc = engine.documents.get(uri)
        doc.apply_edit(offsets[uri], offsets[uri], b"x")  # the user types a character, then asks
        offsets[uri] += 1
        completion = await engine.complete(uri, offsets[uri])
        stats = completion.stats
        assert stats is not None and stats.first_token_s is not None
        # The first visits are cold either way, and the prompt budget settles on its context blocks then.
        if i >= warmup * len(FILES):
            firsts.append(stats.first_token_s * 1000)
            prompts.append(stats.prompt_tokens)
            reused.append(stats.reused_tokens)
    engine.shutdown()
    return {
        "kv_states_mb": kv_states_mb,
        "switches": len(firsts),
        "first_token_ms_median": round(statistics.median(firsts), 1),
        "first_token_ms_all": [round(x, 1) for x in firsts],
        "prompt_tokens_median": statistics.median(prompts),
        "reused_tokens_median": statistics.median(reused),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2, help="visits per file before measuring")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "switch_warmth.json")
    args = parser.parse_args()
    started, load_before = time.time(), os.getloadavg()
    results = [asyncio.run(run(mb, args.rounds, args.warmup)) for mb in (256, 0)]
    with_states, without = results
    report = {
        "what": "first-token time after switching between two open files (embedded model, llama_cpp, 2 threads)",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared with other engineers",
        "load_average_1_5_15min_before_and_after": [load_before, os.getloadavg()],
        "with_states": with_states,
        "without_states": without,
        "speedup_median": round(without["first_token_ms_median"] / with_states["first_token_ms_median"], 1),
        "seconds": round(time.time() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("speedup_median", "load_average_1_5_15min_before_and_after")}))
    for r in results:
        print(
            f"kv_states_mb={r['kv_states_mb']}: median first token {r['first_token_ms_median']} ms over "
            f"{r['switches']} switches (prompt {r['prompt_tokens_median']}, reused {r['reused_tokens_median']})"
        )


if __name__ == "__main__":
    main()
