"""Fixtures for the backend conformance suite: every installed backend, on the rungs of the ladder in ``RUNGS``.

mlx and torch run the rung's GGUF converted, made in this test session (or found in the user's cache, where an
earlier session put it; for tiny, or named by ``SMALLCODER_TEST_HF_MODEL``). Tests that take ``rung`` run once per
rung, all of tiny's first, and a rung's backends are closed after its last test. The remote backend talks to
llama-cpp-python's own server, started here on 127.0.0.1 with the embedded model.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smallcoder_lsp.backends import load_backend
from smallcoder_lsp.backends.base import Backend, ModelSpec
from smallcoder_lsp.backends.llama_cpp import SERVER_LAUNCH
from smallcoder_lsp.errors import ModelLoadError
from smallcoder_lsp.models.files import embedded_model_path, resolve_model_path
from smallcoder_lsp.models.hardware import importable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

LOCAL = {"llama_cpp": ("llama_cpp",), "mlx": ("mlx", "mlx_lm"), "torch": ("torch", "transformers")}
CONTEXT = 512
RUNGS = ("tiny", "small")
"""tiny (Gemma 3 270M: no FIM, a BOS, a sliding window) and small (Qwen2.5-Coder 0.5B: FIM tokens, q/k/v biases, no
BOS). medium is small's architecture with three times the weights (6.7 GB in float32, 10 GB resident in torch), so
it stays out of the suite."""


def installed(name: str) -> bool:
    return all(importable(m) for m in LOCAL[name])


@pytest.fixture(scope="session")
def gguf() -> Path:
    return embedded_model_path()


@pytest.fixture(scope="session")
def converted(request: pytest.FixtureRequest) -> Path:
    # A conversion made elsewhere, e.g. on a CUDA machine that has the GGUF but not the embedded-model package.
    if os.environ.get("SMALLCODER_TEST_HF_MODEL"):
        return Path(os.environ["SMALLCODER_TEST_HF_MODEL"])
    return converted_rung("tiny")


@pytest.fixture(scope="session", params=RUNGS)
def rung(request: pytest.FixtureRequest) -> Iterator[str]:
    """The rung a test runs on; its GGUF must be installed (tiny always is). Its backends close after its last
    test: one rung in memory at a time (small's float32 copies take 2.5 GB each)."""
    rung_gguf(request.param)
    yield str(request.param)
    close_loaded(request.param)


def rung_gguf(rung: str) -> Path:
    try:
        return resolve_model_path(rung)
    except ModelLoadError as exc:
        pytest.skip(f"rung {rung} is not installed: {exc}")


def converted_rung(rung: str) -> Path:
    """The rung's Hugging Face folder, converted once (and kept in the user cache)."""
    if not installed("torch"):
        pytest.skip("converting needs the torch extra: pip install 'smallcoder-lsp[torch]'")
    from smallcoder_lsp.models.convert import convert

    return convert(rung)


_loaded: dict[tuple[str, str], Backend] = {}


@pytest.fixture(scope="session", autouse=True)
def close_backends() -> Iterator[None]:
    yield
    close_loaded()  # before interpreter teardown, where llama.cpp's finalizer would fail


def close_loaded(rung: str | None = None) -> None:
    """Close the loaded backends of ``rung`` (None: of every rung)."""
    for key in [key for key in _loaded if rung in (None, key[1])]:
        _loaded.pop(key).close()


def model_path(name: str, rung: str, request: pytest.FixtureRequest) -> Path:
    if rung == "tiny":
        return Path(request.getfixturevalue("gguf" if name == "llama_cpp" else "converted"))
    return rung_gguf(rung) if name == "llama_cpp" else converted_rung(rung)


def local_backend(name: str, request: pytest.FixtureRequest, rung: str = "tiny") -> Backend:
    if not installed(name):
        pytest.skip(f"backend {name} is not installed")
    if (name, rung) not in _loaded:
        backend = load_backend(name, ModelSpec(str(model_path(name, rung, request)), CONTEXT, threads=2))
        assert not hasattr(backend, "generate")
        _loaded[name, rung] = backend  # type: ignore[assignment]
    backend = _loaded[name, rung]
    backend.trim(0)
    return backend


@pytest.fixture
def load_local(request: pytest.FixtureRequest) -> Callable[..., Backend | None]:
    """Load a local backend by name, on a rung (default tiny); None when it is not installed."""
    return lambda name, rung="tiny": local_backend(name, request, rung) if installed(name) else None


@pytest.fixture(params=list(LOCAL))
def backend(request: pytest.FixtureRequest, rung: str) -> Backend:
    return local_backend(request.param, request, rung)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_server(url: str, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
            conn.request("GET", "/v1/models")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("the server did not come up")


@pytest.fixture(scope="session")
def server_url(gguf: Path) -> Iterator[str]:
    if not all(importable(m) for m in ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context")):
        pytest.skip("the remote tests need llama-cpp-python's server: pip install 'smallcoder-lsp[server]'")
    port = free_port()
    cmd = [sys.executable, "-c", SERVER_LAUNCH, "--model", str(gguf), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "1024", "--n_threads", "2", "--verbose", "false"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
