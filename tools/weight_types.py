"""Measure a GGUF against forms of it requantized to other weight types, as ``models/requantize.py`` chose IQ4_NL
for small: llama.cpp's prefill and decode rates on this machine, and how much accuracy each form keeps on code
written after the models were trained (this project's own source).

    python tools/weight_types.py small IQ4_NL Q4_0 Q8_0
    python tools/weight_types.py path/to/model.gguf IQ4_NL

For each form: tokens/s prefilled (768 tokens in batches of 512 and of 64, as a cold window and the keystrokes
after it) and decoded (one token at a time), each the median of three rounds, every file in a process of its
own; then the mean loss per token (nats) of the file's own form and of each requantized one over the same text,
and how often each names the same likeliest next token as the file's own. The requantized files are written to
a temporary folder and deleted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = sorted((ROOT / "smallcoder_lsp").rglob("*.py"))[::7][:8]


def rates(path: str) -> dict[str, float]:
    import llama_cpp

    text = (ROOT / "smallcoder_lsp" / "completion" / "engine.py").read_text()[:12000]
    llm = llama_cpp.Llama(model_path=path, n_ctx=2048, n_batch=512, n_threads=2, n_threads_batch=2, verbose=False)
    tokens = llm.tokenize(text.encode(), add_bos=False)[:768]
    found: dict[str, list[float]] = {"prefill 512": [], "prefill 64": [], "decode": []}
    for _ in range(3):
        for batch in (512, 64):
            llm.reset()
            llm._ctx.kv_cache_seq_rm(-1, 0, -1)
            start = time.perf_counter()
            for i in range(0, len(tokens), batch):
                llm.eval(tokens[i : i + batch])
            found[f"prefill {batch}"].append(len(tokens) / (time.perf_counter() - start))
        start = time.perf_counter()
        for token in tokens[:24]:
            llm.eval([token])
        found["decode"].append(24 / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in found.items()}


def losses(path: str) -> tuple[list[float], list[int]]:
    """Loss per token and the likeliest next token, over the held-out files (their first 1,000 tokens each)."""
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(model_path=path, n_ctx=1024, n_batch=512, n_threads=2, verbose=False, logits_all=True)
    loss: list[float] = []
    top: list[int] = []
    for file in HELD_OUT:
        tokens = llm.tokenize(file.read_text().encode(), add_bos=False)[:1000]
        llm.reset()
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        llm.eval(tokens)
        logits = np.array(llm.scores[: len(tokens) - 1], dtype=np.float64)
        peak = logits.max(axis=1, keepdims=True)
        log_total = np.log(np.exp(logits - peak).sum(axis=1)) + peak[:, 0]
        loss += (log_total - logits[np.arange(len(tokens) - 1), tokens[1:]]).tolist()
        top += logits.argmax(axis=1).tolist()
    return loss, top


def requantize(source: str, target: str, weight_type: str) -> None:
    from smallcoder_lsp.backends.llama_cpp import quantize_file
    from smallcoder_lsp.models.requantize import embedding_type

    quantize_file(source, target, f"LLAMA_FTYPE_MOSTLY_{weight_type}", embedding_type(Path(source)), threads=2)


def in_child(what: str, path: str) -> object:
    """Run ``what`` on ``path`` in a process of its own (one model in memory, no state carried between them)."""
    code = f"import json, sys; sys.path.insert(0, {str(ROOT / 'tools')!r}); import weight_types as w; "
    code += f"print(json.dumps(w.{what}({path!r})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a rung's name or a GGUF file")
    parser.add_argument("types", nargs="+", help="weight types to requantize to (IQ4_NL, Q4_0, Q8_0, ...)")
    args = parser.parse_args()
    from smallcoder_lsp.models.files import resolve_model_path

    source = str(resolve_model_path(args.model))
    with tempfile.TemporaryDirectory() as folder:
        forms = {"as it is": source}
        for weight_type in args.types:
            forms[weight_type] = str(Path(folder) / f"{weight_type}.gguf")
            requantize(source, forms[weight_type], weight_type)
        measured = {name: in_child("rates", path) for name, path in forms.items()}
        scored = {name: in_child("losses", path) for name, path in forms.items()}
        sizes = {name: Path(path).stat().st_size for name, path in forms.items()}
    _, own_top = scored["as it is"]  # type: ignore[misc]
    for name in forms:
        loss, top = scored[name]  # type: ignore[misc]
        same = sum(a == b for a, b in zip(top, own_top, strict=True)) / len(top)
        speed = ", ".join(f"{k} {v:.0f} tok/s" for k, v in measured[name].items())  # type: ignore[attr-defined]
        print(f"{name:>9}: {sizes[name] / 1e6:.0f} MB; {speed}; loss {statistics.mean(loss):.4f}; same top {same:.3f}")


if __name__ == "__main__":
    main()
