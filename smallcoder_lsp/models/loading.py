"""Which model to load with which runtime: the user's settings, the hardware profile, and the fallback.

llama.cpp runs GGUF files; mlx and torch run Hugging Face folders, made from a GGUF by ``smallcoder-lsp convert``.
"""

from __future__ import annotations

import logging

from smallcoder_lsp.backends import HF_BACKENDS, TEST_BACKENDS, load_backend
from smallcoder_lsp.backends.base import Backend, Generator, ModelSpec
from smallcoder_lsp.config import Config
from smallcoder_lsp.errors import BackendUnavailable, DeviceMemoryError, ModelLoadError
from smallcoder_lsp.models import hardware
from smallcoder_lsp.models.convert import hf_model_folder
from smallcoder_lsp.models.files import resolve_model_path

log = logging.getLogger(__name__)


def resolve_backend_name(name: str) -> str:
    """``auto`` becomes the backend DESIGN.md's table picks for this machine; any other name stays."""
    return hardware.choose_backend(name, hardware.detect())[0] if name == "auto" else name


def load_model(config: Config) -> Backend | Generator:
    """Load the configured model with the configured backend. When ``auto`` picked a runtime that cannot
    load (not installed, out of memory), fall back to llama.cpp on the CPU with a warning."""
    name = resolve_backend_name(config.backend)
    try:
        return load_backend(name, model_spec(config, name))
    except (BackendUnavailable, DeviceMemoryError) as exc:
        if config.backend != "auto" or name == "llama_cpp":
            raise
        log.warning("%s; falling back to llama_cpp", exc)
        return load_backend("llama_cpp", model_spec(config, "llama_cpp"))


def model_spec(config: Config, backend: str) -> ModelSpec:
    """What ``backend`` loads for this config: a GGUF file, a Hugging Face folder, or a server URL."""
    if backend == "remote":
        if not config.remote_url:
            raise ModelLoadError("backend 'remote' needs remoteUrl (e.g. http://127.0.0.1:8080)")
        return ModelSpec(config.remote_url, config.context_length, timeout_s=config.remote_timeout_ms / 1000)
    if backend in TEST_BACKENDS:
        return ModelSpec(config.model, config.context_length, config.threads)
    if backend in HF_BACKENDS:
        return ModelSpec(str(hf_model_folder(config.model)), config.context_length, config.threads)
    return ModelSpec(str(resolve_model_path(config.model)), config.context_length, config.threads)
