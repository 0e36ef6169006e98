"""Fixtures for the backend conformance suite: every installed backend, on the embedded model.

mlx and torch run the embedded GGUF's conversion, made in this test session (or found in the user's cache,
where an earlier session put it, or named by ``SMALLCODER_TEST_HF_MODEL``). The remote backend talks to
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
from smallcoder_lsp.models.files import embedded_model_path
from smallcoder_lsp.models.hardware import importable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

LOCAL = {"llama_cpp": ("llama_cpp",), "mlx": ("mlx", "mlx_lm"), "torch": ("torch", "transformers")}
CONTEXT = 512


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
    if not installed("torch"):
        pytest.skip("converting needs the torch extra: pip install 'smallcoder-lsp[torch]'")
    from smallcoder_lsp.models.convert import convert

    request.getfixturevalue("gguf")
    return convert("")


_loaded: dict[str, Backend] = {}


@pytest.fixture(scope="session", autouse=True)
def close_backends() -> Iterator[None]:
    yield
    for backend in _loaded.values():
        backend.close()  # before interpreter teardown, where llama.cpp's finalizer would fail
    _loaded.clear()


def local_backend(name: str, request: pytest.FixtureRequest) -> Backend:
    if not installed(name):
        pytest.skip(f"backend {name} is not installed")
    if name not in _loaded:
        path = request.getfixturevalue("gguf") if name == "llama_cpp" else request.getfixturevalue("converted")
        backend = load_backend(name, ModelSpec(str(path), CONTEXT, threads=2))
        assert not hasattr(backend, "generate")
        _loaded[name] = backend  # type: ignore[assignment]
    backend = _loaded[name]
    backend.trim(0)
    return backend


@pytest.fixture
def load_local(request: pytest.FixtureRequest) -> Callable[[str], Backend | None]:
    """Load a local backend by name (None when it is not installed)."""
    return lambda name: local_backend(name, request) if installed(name) else None


@pytest.fixture(params=list(LOCAL))
def backend(request: pytest.FixtureRequest) -> Backend:
    return local_backend(request.param, request)


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
