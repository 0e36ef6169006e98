"""Issue 13's figures for the torch backend on a CUDA machine, per way of running it, beside llama.cpp on a CPU.

Ways (``--modes``): ``transformers`` (the transformers forward, the path before issue 13), ``eager`` (our decoder
and static cache, no graphs), ``graphs`` (CUDA graphs of the eager forward), ``compiled`` (graphs of the
``torch.compile``d forward, after the background compile has ended). For each:
- decode tok/s: greedy, 256 tokens after a 512-token prompt, through ``Sampler.pick`` (one host sync per token);
- warm first token: a cached 2048-token prefix, 5 new tokens evaluated and the next one sampled; p50/p95 of 100;
- prefill tok/s: a fresh 1024-token prompt through ``Session.prefill`` (64-token chunks);
- top-1 agreement with llama.cpp (and with torch in fp32 on a CPU) on the cross-runtime prompts, recorded on the
  development machine in ``reference_top1.json``.

Usage: python3 bench/gpu/torch_figures.py --model /tmp/w/hf --out $OUT/torch_figures.json [--modes graphs,compiled]
``--dry-run`` runs small sizes on whatever device there is, to check the script itself (figures meaningless).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from smallcoder_lsp.backends.base import ModelSpec  # noqa: E402
from smallcoder_lsp.backends.torch import TorchBackend  # noqa: E402
from smallcoder_lsp.decode.sampling import Sampler  # noqa: E402
from smallcoder_lsp.decode.session import Session  # noqa: E402
from smallcoder_lsp.decode.stream import generate_step  # noqa: E402

HERE = Path(__file__).resolve().parent
CORPUS = ROOT / "smallcoder_lsp" / "bench" / "corpus" / "typing"
MODES = {
    "transformers": {"static": False, "graphs": False, "compile": False},
    "eager": {"static": True, "graphs": False, "compile": False},
    "graphs": {"static": True, "graphs": True, "compile": False},
    "compiled": {"static": True, "graphs": True, "compile": True},
}
# llama.cpp on the 2-core development machine, embedded model (DESIGN.md; bench/results/earlier/report.md, 2026-11-23).
LLAMA_CPP_CPU = {"decode_tok_s": 65.0, "warm_first_token_p95_ms": 23.3, "prefill_tok_s": 530.0}
TARGETS = {"decode_tok_s": 300.0, "warm_first_token_p95_ms": 8.0, "prefill_tok_s": 20_000.0}


@dataclass(frozen=True)
class Sizes:
    prompt: int = 512
    decode: int = 256
    prefix: int = 2048
    trials: int = 100
    prefill: int = 1024


DRY_RUN = Sizes(prompt=64, decode=8, prefix=128, trials=5, prefill=128)


def source_tokens(backend: TorchBackend, n: int) -> list[int]:
    text = "".join(p.read_text() for p in sorted(CORPUS.glob("*.py.txt")))
    tokens = backend.tokenize(text * (1 + 4 * n // max(1, len(text))), add_bos=True)
    assert len(tokens) >= n, "the typing corpus is too short"
    return tokens[:n]


def synced() -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter()


def decode_rate(backend: TorchBackend, tokens: list[int], sizes: Sizes) -> dict[str, float]:
    session = Session(backend)
    session.prefill(tokens[: sizes.prompt])
    steps, times = generate_step(session, Sampler(0.0)), []
    start = last = synced()
    for _ in range(sizes.decode):
        next(steps)  # sampling reads the token id back: the step has finished on the GPU
        now = time.perf_counter()
        times.append(now - last)
        last = now
    return {"decode_tok_s": sizes.decode / (last - start), "decode_ms_p50": 1e3 * statistics.median(times[1:])}


def warm_first_token(backend: TorchBackend, tokens: list[int], sizes: Sizes) -> dict[str, float]:
    session, sampler, keep = Session(backend), Sampler(0.0), sizes.prefix - 5
    session.prefill(tokens[: sizes.prefix])
    times = []
    for i in range(sizes.trials):
        shift = 5 * (i % 8)  # each trial types 5 other tokens after the same cached prefix
        start = synced()
        session.prefill(tokens[:keep] + tokens[keep - shift : keep - shift + 5])
        sampler.pick(backend)  # reads the token id back
        times.append(time.perf_counter() - start)
    ms = sorted(1e3 * t for t in times)
    return {"warm_first_token_p50_ms": ms[len(ms) // 2], "warm_first_token_p95_ms": ms[int(0.95 * (len(ms) - 1))]}


def prefill_rate(backend: TorchBackend, tokens: list[int], sizes: Sizes) -> dict[str, float]:
    session, times = Session(backend), []
    for _ in range(5):
        session.reset()
        start = synced()
        session.prefill(tokens[: sizes.prefill])
        times.append(synced() - start)
    return {"prefill_tok_s": sizes.prefill / statistics.median(times)}


def top1_agreement(backend: TorchBackend) -> dict[str, str]:
    rows = json.loads((HERE / "reference_top1.json").read_text())["prompts"]
    picks = []
    for row in rows:
        backend.trim(0)
        backend.evaluate(backend.tokenize(row["prompt"], add_bos=True))
        picks.append(int(backend.logits().argmax()))
    agree = {
        name: sum(p == r[name] for p, r in zip(picks, rows, strict=True)) for name in ("llama_cpp", "torch_cpu_fp32")
    }
    return {f"top1_vs_{name}": f"{n}/{len(rows)}" for name, n in agree.items()}


def measure(model: str, mode: str, context: int, sizes: Sizes) -> dict[str, Any]:
    start = time.perf_counter()
    backend = TorchBackend(ModelSpec(model, context), **MODES[mode])
    figures: dict[str, Any] = {"load_s": time.perf_counter() - start}
    if MODES[mode]["compile"]:
        figures["compile_done"] = backend.wait_for_compile(timeout=480)
        figures["compile_s"] = time.perf_counter() - start
        backend.trim(0)
        backend.evaluate([backend.info.bos_id or 0])  # the first evaluation after the compile swaps its graphs in
    figures["runs_as"] = backend.mode
    figures.update(top1_agreement(backend))
    tokens = source_tokens(backend, max(sizes.prefix, sizes.prompt, sizes.prefill))
    for measurement in (prefill_rate, warm_first_token, decode_rate):
        figures.update(measurement(backend, tokens, sizes))
    if torch.cuda.is_available():
        figures["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
    backend.close()
    return figures


def table(results: dict[str, dict[str, Any]]) -> str:
    keys = ["runs_as", "load_s", "compile_s", *TARGETS, "decode_ms_p50", "warm_first_token_p50_ms",
            "top1_vs_llama_cpp", "top1_vs_torch_cpu_fp32", "peak_gpu_mb"]  # fmt: skip
    lines = ["| figure | target | llama.cpp CPU | " + " | ".join(results) + " |", "|---" * (3 + len(results)) + "|"]
    for key in keys:
        cells = [f"{r[key]:.1f}" if isinstance(r.get(key), float) else str(r.get(key, "")) for r in results.values()]
        target, ref = TARGETS.get(key, ""), LLAMA_CPP_CPU.get(key, "")
        lines.append(f"| {key} | {target} | {ref} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="the converted Hugging Face folder")
    parser.add_argument("--modes", default="transformers,eager,graphs,compiled")
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--dry-run", action="store_true", help="small sizes, any device: checks the script only")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.dry_run:
        print("no CUDA device (--dry-run checks the script on a CPU)", file=sys.stderr)
        return 2
    sizes = DRY_RUN if args.dry_run else Sizes()
    results = {mode: measure(args.model, mode, args.context, sizes) for mode in args.modes.split(",")}
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    machine = {"gpu": gpu, "torch": torch.__version__, "transformers": transformers.__version__,
               "python": platform.python_version(), "dry_run": args.dry_run}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"machine": machine, "context": args.context, "llama_cpp_cpu": LLAMA_CPP_CPU, "results": results}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(machine))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
