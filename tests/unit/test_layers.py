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
    # backends/torch*.py: the torch runtime split by concept (decoder, cache, graphs, sampling, HF fallback);
    # hf_convert is its other job: GGUF -> Hugging Face folder through transformers.
    "torch": ("backends/torch", "backends/hf_convert.py"),
    "transformers": ("backends/torch", "backends/hf_convert.py"),
    "pygls": ("server/", "bench/"),
    "lsprotocol": ("server/", "bench/"),
    "tree_sitter": ("context/",),
}

# Which of our own parts each part must not import (the layers above it). A part is a top-level module or
# package of smallcoder_lsp, or a module of completion/ (whose pieces are layered among themselves).
ABOVE = {
    "backends": ("cli", "server", "completion", "docstring", "models", "context", "decode", "bench"),
    "decode": ("cli", "server", "completion", "docstring", "models", "context", "bench"),
    "context": ("cli", "server", "completion", "docstring", "models", "decode", "bench"),
    # models sits above decode: its self-test times the decode loop the server runs (models/selftest.py).
    "models": ("cli", "server", "completion", "docstring", "context", "bench"),
    "completion/prompt": ("completion/engine", "completion/runtime", "completion/postprocess"),
    "completion/postprocess": ("completion/engine", "completion/runtime", "completion/prompt"),
    "completion/suggestions": ("completion/engine", "completion/runtime"),
    "completion/budget": ("completion/engine", "completion/runtime"),
    "completion/runtime": ("completion/engine",),
    "completion": ("cli", "server", "docstring", "bench"),
    "docstring": ("cli", "server", "bench"),
    "server": ("cli", "bench"),
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from smallcoder_lsp.models import hardware` imports the module models.hardware
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules() -> list[tuple[str, set[str]]]:
    return [(p.relative_to(PACKAGE).as_posix(), imports_of(p)) for p in sorted(PACKAGE.rglob("*.py"))]


def test_heavy_dependencies_stay_in_their_homes():
    for rel, names in modules():
        for name in names:
            top = name.split(".")[0]
            if top in HOMES:
                assert rel.startswith(HOMES[top]), f"{rel} imports {name}; only {HOMES[top]} may"


def part_of(rel: str) -> str:
    """``completion/engine`` for completion/engine.py, else the top-level part (``decode``, ``cli``)."""
    parts = rel.removesuffix(".py").split("/")
    return "/".join(parts[:2]) if parts[0] == "completion" and len(parts) > 1 else parts[0]


def test_layers_import_downward_only():
    for rel, names in modules():
        part = part_of(rel)
        for name in names:
            if not name.startswith("smallcoder_lsp."):
                continue
            target = name.split(".")[1]
            inner = "/".join(name.split(".")[1:3])
            forbidden = (*ABOVE.get(part, ()), *ABOVE.get(part.split("/")[0], ()))
            if part.startswith("completion") and target == "completion":
                assert inner not in forbidden, f"{rel} imports {name}, a layer above it"
            else:
                assert target not in forbidden, f"{rel} imports {name}, a layer above it"


def test_no_import_circles_between_modules():
    graph = {rel.removesuffix(".py").replace("/", ".").removesuffix(".__init__"): names for rel, names in modules()}
    own = {
        m: {n.removeprefix("smallcoder_lsp.") for n in names if n.startswith("smallcoder_lsp.")}
        for m, names in graph.items()
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in own.get(start, ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                if reaches(nxt, goal, seen):
                    return True
        return False

    circles = [m for m in own if reaches(m, m, set())]
    assert not circles, f"import circles through: {sorted(circles)}"


def test_the_walk_sees_the_package():
    rels = [rel for rel, _ in modules()]
    assert "completion/engine.py" in rels and "backends/llama_cpp.py" in rels and "server/app.py" in rels
