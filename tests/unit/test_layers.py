"""Layers import downward only, and each heavy dependency has one home (STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "smallcoder_lsp"

# Which package parts may import a third-party module.
HOMES = {
    "llama_cpp": ("backends/llama_cpp.py",),
    "mlx": ("backends/mlx.py",),
    "mlx_lm": ("backends/mlx.py",),
    # hf_convert is the torch runtime's other job: GGUF -> Hugging Face folder through transformers.
    "torch": ("backends/torch.py", "backends/hf_convert.py"),
    "transformers": ("backends/torch.py", "backends/hf_convert.py"),
    "pygls": ("server/", "bench/"),
    "lsprotocol": ("server/", "bench/"),
    "tree_sitter": ("context/",),
}

# Which of our own parts each part must not import (the layers above it).
ABOVE = {
    "backends": ("cli", "server", "engine", "context", "prompt", "decode", "postprocess", "bench"),
    "decode": ("cli", "server", "engine", "context", "prompt", "postprocess", "bench"),
    "context": ("cli", "server", "engine", "prompt", "decode", "postprocess", "bench"),
    "prompt": ("cli", "server", "engine", "decode", "postprocess", "bench"),
    "postprocess": ("cli", "server", "engine", "bench"),
    "engine": ("cli", "server", "bench"),
    "runtime": ("cli", "server", "engine", "bench"),
    "suggestions": ("cli", "server", "engine", "runtime", "bench"),
    "budget": ("cli", "server", "engine", "runtime", "bench"),
    "server": ("cli", "bench"),
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules() -> list[tuple[str, set[str]]]:
    return [(p.relative_to(PACKAGE).as_posix(), imports_of(p)) for p in sorted(PACKAGE.rglob("*.py"))]


def test_heavy_dependencies_stay_in_their_homes():
    for rel, names in modules():
        for name in names:
            top = name.split(".")[0]
            if top in HOMES:
                assert rel.startswith(HOMES[top]), f"{rel} imports {name}; only {HOMES[top]} may"


def test_layers_import_downward_only():
    for rel, names in modules():
        part = rel.split("/")[0].removesuffix(".py")
        for name in names:
            if not name.startswith("smallcoder_lsp."):
                continue
            target = name.split(".")[1]
            assert target not in ABOVE.get(part, ()), f"{rel} imports {name}, a layer above it"


def test_the_walk_sees_the_package():
    rels = [rel for rel, _ in modules()]
    assert "engine.py" in rels and "backends/llama_cpp.py" in rels and "server/app.py" in rels
