"""Inference runtimes, one module each, behind the Protocols in :mod:`smallcoder_lsp.backends.base`.

Backends are imported lazily by name so that a missing optional runtime costs nothing until it is asked for.
"""

from __future__ import annotations

import importlib

from smallcoder_lsp.backends.base import Backend, Generator, ModelSpec
from smallcoder_lsp.errors import BackendUnavailable

# name -> (module, extra that installs its runtime)
BACKENDS: dict[str, tuple[str, str | None]] = {
    "llama_cpp": ("smallcoder_lsp.backends.llama_cpp", None),
    "mlx": ("smallcoder_lsp.backends.mlx", "mlx"),
    "torch": ("smallcoder_lsp.backends.torch", "torch"),
    "remote": ("smallcoder_lsp.backends.remote", None),
    "fake": ("smallcoder_lsp.backends.fake", None),
    "faults": ("smallcoder_lsp.backends.faults", None),
}

# Backends that load a model here (a self-test can time them), as against a server's or a test double.
LOCAL_BACKENDS = ("llama_cpp", "mlx", "torch")

# Backends that run Hugging Face folders (made by `smallcoder-lsp convert`) rather than GGUF files.
HF_BACKENDS = ("mlx", "torch")

# Test doubles: their `model` is a JSON file (scripted replies; a fault plan), not a model.
TEST_BACKENDS = ("fake", "faults")


def import_backend_module(name: str, module_name: str | None = None) -> object:
    """Import backend ``name``'s module (or a sibling that needs the same extra), naming the extra if missing."""
    if name not in BACKENDS:
        raise BackendUnavailable(f"unknown backend '{name}'; choose one of: auto, {', '.join(BACKENDS)}")
    default, extra = BACKENDS[name]
    try:
        return importlib.import_module(module_name or default)
    except ImportError as exc:
        hint = f"pip install 'smallcoder-lsp[{extra}]'" if extra else "reinstall smallcoder-lsp"
        raise BackendUnavailable(f"backend '{name}' is not installed ({exc}); {hint}") from exc


def load_backend(name: str, spec: ModelSpec) -> Backend | Generator:
    """Import the backend module ``name`` (a concrete name, not ``auto``) and load ``spec`` with it."""
    module = import_backend_module(name)
    backend: Backend | Generator = module.load(spec)  # type: ignore[attr-defined]
    return backend
