"""Choose the code vocabulary: which of Gemma 3's tokens occur in code (see smallcoder_lsp/models/vocabulary.py).

    python tools/code_vocabulary.py /usr /root/.pyenv --out smallcoder_lsp/models/code_tokens.json

Tokenizes source files found under the given folders (a budget of bytes per file type, files drawn with a fixed
seed; every tenth file is held out and checked instead), and keeps every token seen, every control, byte and
single-character token, every ASCII token among the 100,000 most frequent (the words of the user's own names and
comments: ` shop`, ` cheapest`), and every token the tokenizer passes through on the way to a kept one (Gemma's
tokenizer merges pieces pairwise by score, so a token is only reached if its intermediate pieces exist). Prints
how many held-out tokens would be read differently.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smallcoder_lsp.models.files import embedded_model_path
from smallcoder_lsp.models.vocabulary import KeptTokens, vocabulary_digest

BUDGETS = {"py": 30_000_000}
"""Bytes to tokenize per file type; other types get ``--budget``."""
TYPES = "py pyi js mjs ts tsx go rs c h cc cpp hpp java kt rb php lua sh bash zsh sql html css scss md rst txt json "
TYPES += "toml yaml yml ini cfg cmake mk"
NORMAL = 1  # llama.cpp's token type of an ordinary token
SPACE = "\u2581"  # how SentencePiece vocabularies write a space


def source_files(roots: list[Path], max_bytes: int) -> dict[str, list[Path]]:
    wanted = set(TYPES.split())
    found: dict[str, list[Path]] = collections.defaultdict(list)
    for root in roots:
        for folder, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev", ".git")]
            for name in names:
                kind = name.rsplit(".", 1)[-1]
                path = Path(folder, name)
                if kind in wanted and path.is_file() and not path.is_symlink() and path.stat().st_size <= max_bytes:
                    found[kind].append(path)
    return found


def merge_path(text: str, index: dict[str, int], scores: list[float]) -> list[int]:
    """The tokens Gemma's (SentencePiece BPE) tokenizer makes on the way to tokenizing ``text`` alone."""
    pieces, made = list(text), list[int]()
    while True:
        best = None
        for j in range(len(pieces) - 1):
            token = index.get(pieces[j] + pieces[j + 1])
            if token is not None and (best is None or scores[token] > best[0]):
                best = (scores[token], j, token)
        if best is None:
            return made
        _, j, token = best
        pieces[j : j + 2] = [pieces[j] + pieces[j + 1]]
        made.append(token)


def count_tokens(roots: list[Path], llm: Any, budget: int) -> tuple[collections.Counter[int], list[list[int]]]:
    """The tokens of source files under ``roots`` (up to ``budget`` bytes per file type, ``BUDGETS`` where set),
    and every tenth file's tokens held out instead."""
    seen: collections.Counter[int] = collections.Counter()
    held_out: list[list[int]] = []
    rng = random.Random(7)
    for kind, paths in sorted(source_files(roots, 200_000).items()):
        paths.sort()
        rng.shuffle(paths)
        most, used = BUDGETS.get(kind, budget), 0
        for n, path in enumerate(paths):
            if used > most:
                break
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if b"\0" in data:
                continue
            ids = llm.tokenize(data, add_bos=False, special=False)
            if n % 10 == 9:
                held_out.append(ids)
            else:
                seen.update(ids)
                used += len(data)
        print(f"{kind}: {len(paths)} files, {used} bytes, {len(seen)} tokens seen so far", file=sys.stderr)
    return seen, held_out


def chosen(
    seen: collections.Counter[int], texts: list[str], types: list[int], scores: list[float], ascii_below: int
) -> set[int]:
    """The tokens seen, every control, byte and single-character token, every ASCII token numbered below
    ``ascii_below``, and the tokens the merges pass through on the way to a kept one."""
    keep = set(seen) | {i for i, t in enumerate(types) if t != NORMAL}
    keep |= {i for i, t in enumerate(texts) if len(t) == 1}
    keep |= {i for i, t in enumerate(texts[:ascii_below]) if types[i] == NORMAL and t.replace(SPACE, " ").isascii()}
    index = {t: i for i, t in enumerate(texts)}
    for token in list(keep):
        if types[token] == NORMAL:
            keep.update(merge_path(texts[token], index, scores))
    return keep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--model", type=Path, help="GGUF (default: the embedded Gemma 3 270M)")
    parser.add_argument("--budget", type=int, default=4_000_000, help="bytes per file type (default: 4 MB)")
    parser.add_argument(
        "--ascii-below",
        type=int,
        default=100_000,
        help="also keep every ASCII token numbered below this (Gemma numbers its tokens most frequent first), so "
        "that the words of the user's own names and comments are kept though the source files lack them",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import llama_cpp
    from gguf import GGUFReader

    model = args.model or embedded_model_path()
    fields = GGUFReader(model).fields
    tokens = [bytes(fields["tokenizer.ggml.tokens"].parts[i]) for i in fields["tokenizer.ggml.tokens"].data]
    scores = [float(fields["tokenizer.ggml.scores"].parts[i][0]) for i in fields["tokenizer.ggml.scores"].data]
    types = [int(fields["tokenizer.ggml.token_type"].parts[i][0]) for i in fields["tokenizer.ggml.token_type"].data]
    texts = [t.decode("utf-8", "replace") for t in tokens]
    llm = llama_cpp.Llama(str(model), vocab_only=True, verbose=False)

    seen, held_out = count_tokens(args.roots, llm, args.budget)
    keep = chosen(seen, texts, types, scores, args.ascii_below)
    kept = np.array(sorted(keep), dtype=np.int64)
    missing = sum(1 for ids in held_out for t in ids if t not in keep)
    total = sum(len(ids) for ids in held_out)
    print(f"kept {len(kept)} of {len(tokens)} tokens; held-out tokens not kept: {missing} of {total}", file=sys.stderr)
    source = (
        f"tools/code_vocabulary.py: {len(seen)} tokens seen in source files, {len(kept)} kept; "
        f"{missing} of {total} held-out tokens not kept"
    )
    args.out.write_text(KeptTokens(vocabulary_digest(tokens), kept).to_json(source))


if __name__ == "__main__":
    main()
