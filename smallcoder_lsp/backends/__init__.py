"""Inference runtimes, one module each, behind the Protocol in :mod:`smallcoder_lsp.backends.base`.

Backends are imported lazily by name so that a missing optional runtime costs nothing until it is asked for.
"""

from __future__ import annotations

import importlib

from smallcoder_lsp.backends.base import Backend, ModelSpec
from smallcoder_lsp.errors import BackendUnavailable

# name -> (module, extra that installs its runtime)
BACKENDS: dict[str, tuple[str, str | None]] = {
    "llama_cpp": ("smallcoder_lsp.backends.llama_cpp", None),
    "fake": ("smallcoder_lsp.backends.fake", None),
}


def resolve_backend_name(name: str) -> str:
    # Only the llama.cpp runtime exists so far; "auto" picks it on every machine.
    return "llama_cpp" if name == "auto" else name


def load_backend(name: str, spec: ModelSpec) -> Backend:
    """Import the backend module ``name`` and load ``spec`` with it."""
    name = resolve_backend_name(name)
    if name not in BACKENDS:
        raise BackendUnavailable(f"unknown backend '{name}'; choose one of: auto, {', '.join(BACKENDS)}")
    module_name, extra = BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"pip install 'smallcoder-lsp[{extra}]'" if extra else "reinstall smallcoder-lsp"
        raise BackendUnavailable(f"backend '{name}' is not installed ({exc}); {hint}") from exc
    backend: Backend = module.load(spec)
    return backend
