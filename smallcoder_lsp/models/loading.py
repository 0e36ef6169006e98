"""Which model to load with which runtime: the user's settings, the hardware profile, and the fallback.

llama.cpp runs GGUF files; mlx and torch run Hugging Face folders, made from a GGUF by ``smallcoder-lsp convert``.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from pathlib import Path

from smallcoder_lsp.backends import HF_BACKENDS, TEST_BACKENDS, load_backend
from smallcoder_lsp.backends.base import Backend, Generator, ModelSpec
from smallcoder_lsp.config import Config
from smallcoder_lsp.errors import BackendUnavailable, DeviceMemoryError, ModelLoadError, SmallcoderError
from smallcoder_lsp.models import hardware, ladder, rates
from smallcoder_lsp.models.convert import hf_model_folder
from smallcoder_lsp.models.files import resolve_model_path
from smallcoder_lsp.models.requantize import requantized_model
from smallcoder_lsp.models.selftest import SelfTest, run_self_test
from smallcoder_lsp.models.vocabulary import code_vocabulary_model

log = logging.getLogger(__name__)


def resolve_backend_name(name: str, config: Config | None = None) -> str:
    """``auto`` becomes the backend DESIGN.md's table picks for this machine; any other name stays.

    Where the table would pick torch (a CUDA device), torch and llama.cpp are self-tested with ``config``'s model
    (default settings when None), once per machine, model and runtime version, and the faster one is kept.
    """
    if name != "auto":
        return name
    config = config or Config()
    if config.auto_model:  # the backend is chosen first, on the smallest rung; the rung then on that backend
        config = replace(config, model="tiny")
    profile = hardware.detect()
    contenders = hardware.measured_contenders(profile)
    if contenders and any(remembered(b, config, profile) is None for b in contenders):
        log.warning("backend = auto: measuring %s once on this machine (a few seconds)", " and ".join(contenders))
    tests = {b: measure(b, config, profile) for b in contenders}
    choice, reason = hardware.choose_backend(name, profile, tests)
    log.info("backend = auto: %s (%s)", choice, reason)
    return choice


def remembered(backend: str, config: Config, profile: hardware.Profile) -> SelfTest | None:
    """The self-test of ``backend`` with ``config``'s model on ``profile`` from an earlier run, if any."""
    try:
        return rates.lookup(rates.fingerprint(backend, config, profile))
    except SmallcoderError:
        return None


def measure(backend: str, config: Config, profile: hardware.Profile, *, again: bool = False) -> SelfTest:
    """The self-test of ``backend`` with ``config``'s model: remembered, or run now (``again``: always run)."""
    try:
        fields = rates.fingerprint(backend, config, profile)
    except SmallcoderError as exc:
        return SelfTest(backend, error=str(exc))
    earlier = None if again else rates.lookup(fields)
    if earlier is not None:
        return earlier
    try:
        spec = model_spec(config, backend)  # mlx and torch convert the GGUF here, once, as loading would
    except SmallcoderError as exc:
        return SelfTest(backend, error=str(exc))
    result = run_self_test(backend, spec)
    rates.remember(fields, result)
    return result


def load_model(config: Config) -> Backend | Generator:
    """Load the configured model with the configured backend. When ``auto`` picked a runtime that cannot
    load (not installed, out of memory), fall back to llama.cpp on the CPU with a warning."""
    name = resolve_backend_name(config.backend, config)
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
    return ModelSpec(str(llama_cpp_file(config)), config.context_length, config.threads)


def llama_cpp_file(config: Config) -> Path:
    """The GGUF file llama.cpp runs for ``config``: the model's, cut to the code vocabulary and requantized where
    those settings apply to it (each made once, in the user cache)."""
    path = resolve_model_path(config.model)
    if config.code_vocabulary:
        path = code_vocabulary_model(path)
    rung = ladder.RUNGS.get(config.model)
    if config.requantize and rung is not None and rung.cpu_weights:
        path = requantized_model(path, rung.cpu_weights, config.threads)
    return path


def release_thread() -> None:
    """On a thread that runs no more model work: free what backends keep per thread. mlx frees a thread's streams
    only when that thread asks, a process that exits with them alive aborts ("terminate called without an active
    exception"), and after the call the thread can no longer run mlx."""
    core = sys.modules.get("mlx.core")
    clear = getattr(core, "clear_streams", None)
    if clear is not None:
        clear()
