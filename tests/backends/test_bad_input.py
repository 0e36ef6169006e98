"""Each bad input gets one clear message, and the engine falls back or stays up with empty results."""

from __future__ import annotations

import http.server
import importlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import gguf as gguf_pkg
import numpy as np
import pytest

from smallcoder_lsp import backends
from smallcoder_lsp.backends import load_backend
from smallcoder_lsp.backends.base import ModelSpec, TextRequest
from smallcoder_lsp.completion.engine import Engine
from smallcoder_lsp.config import Config
from smallcoder_lsp.errors import BackendUnavailable, DeviceMemoryError, ModelLoadError, RemoteError
from smallcoder_lsp.models import loading as models_module
from smallcoder_lsp.models.convert import convert
from smallcoder_lsp.models.files import check_hf_folder, embedded_model_path, gguf_architecture
from smallcoder_lsp.models.hardware import importable
from smallcoder_lsp.models.loading import load_model

needs_torch = pytest.mark.skipif(not importable("torch"), reason="needs the torch extra")


def test_a_backend_that_is_not_installed_names_its_extra(monkeypatch):
    real = importlib.import_module

    def no_mlx(name: str, *args: object) -> object:
        if name == "smallcoder_lsp.backends.mlx":
            raise ModuleNotFoundError("No module named 'mlx'")
        return real(name, *args)

    monkeypatch.setattr(backends.importlib, "import_module", no_mlx)
    with pytest.raises(
        BackendUnavailable, match=r"backend 'mlx' is not installed .*pip install 'smallcoder-lsp\[mlx\]'"
    ):
        load_backend("mlx", ModelSpec("/x"))
    with pytest.raises(BackendUnavailable, match="unknown backend 'tpu'"):
        load_backend("tpu", ModelSpec("/x"))


@pytest.mark.model
def test_auto_falls_back_to_llama_cpp_when_its_pick_cannot_load(monkeypatch):
    real_import = importlib.import_module

    def no_torch(name: str, *args: object) -> object:
        if name == "smallcoder_lsp.backends.torch":
            raise ModuleNotFoundError("No module named 'torch'")
        return real_import(name, *args)

    monkeypatch.setattr(backends.importlib, "import_module", no_torch)
    monkeypatch.setattr(models_module, "resolve_backend_name", lambda name, *_: "torch" if name == "auto" else name)
    monkeypatch.setattr(models_module, "model_spec", lambda config, name: ModelSpec(str(embedded_model_path()), 512))
    backend = load_model(Config(backend="auto"))
    assert type(backend).__name__ == "LlamaCppBackend"
    backend.close()
    with pytest.raises(BackendUnavailable, match=r"smallcoder-lsp\[torch\]"):
        load_model(Config(backend="torch"))  # an explicit choice does not fall back


def tiny_gguf(path: Path, arch: str) -> Path:
    writer = gguf_pkg.GGUFWriter(str(path), arch)
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.model
def test_an_unsupported_architecture_is_refused_clearly(tmp_path):
    path = tiny_gguf(tmp_path / "odd.gguf", "frobnicator")
    assert gguf_architecture(path) == "frobnicator"
    with pytest.raises(ModelLoadError, match=r"llama\.cpp could not load"):
        load_backend("llama_cpp", ModelSpec(str(path), 256))
    if importable("torch"):
        with pytest.raises(
            ModelLoadError, match=r"architecture 'frobnicator' cannot be converted; supported: .*gemma3"
        ):
            convert(str(path), tmp_path / "out")


@pytest.mark.model
def test_a_truncated_gguf_is_reported_as_corrupt(tmp_path, gguf):
    cut = tmp_path / "cut.gguf"
    with gguf.open("rb") as src, cut.open("wb") as dst:
        dst.write(src.read(2_000_000))
    with pytest.raises(ModelLoadError, match="corrupt or truncated"):
        gguf_architecture(cut)
    with pytest.raises(ModelLoadError, match=r"llama\.cpp could not load"):
        load_backend("llama_cpp", ModelSpec(str(cut), 256))
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(ModelLoadError, match="not a GGUF model file"):
        gguf_architecture(garbage)


def test_a_converted_folder_without_tokenizer_is_refused(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"lacks a tokenizer .*convert --force"):
        check_hf_folder(folder)
    engine = Engine(Config(backend="torch", model=str(folder)))
    status = engine.start().result()
    assert status.state == "error" and "lacks a tokenizer" in status.message
    engine.shutdown()


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "garbage"

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer()

    def _answer(self) -> None:
        if self.mode == "slow":
            time.sleep(1.5)
        body = b'{"data": [{"id": "m"}]}' if self.path == "/v1/models" else b"<html>hello</html>\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_server(request) -> Iterator[str]:
    handler = type("Handler", (_Handler,), {"mode": request.param})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_server_that_is_down_is_named():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(RemoteError, match=r"no server is listening at http://127\.0\.0\.1:.*connection refused"):
            load_backend("remote", ModelSpec(f"http://127.0.0.1:{port}", timeout_s=2))
    with pytest.raises(RemoteError, match="not a server URL"):
        load_backend("remote", ModelSpec("ftp://x"))


@pytest.mark.parametrize("fake_server", ["slow"], indirect=True)
def test_a_slow_server_times_out_with_a_message(fake_server):
    with pytest.raises(RemoteError, match=r"did not answer /v1/models within 0.3 s"):
        load_backend("remote", ModelSpec(fake_server, timeout_s=0.3))


@pytest.mark.parametrize("fake_server", ["garbage"], indirect=True)
def test_a_server_that_answers_garbage_is_named(fake_server):
    remote = load_backend("remote", ModelSpec(fake_server, timeout_s=5))
    with pytest.raises(RemoteError, match="did not stream server-sent events"):
        list(remote.generate(TextRequest("x", 4), lambda: False))  # type: ignore[union-attr]
    with pytest.raises(RemoteError, match="offers no usable tokenize endpoint"):
        remote.tokenize("x", add_bos=False)  # type: ignore[union-attr]


@pytest.mark.parametrize("fake_server", ["garbage"], indirect=True)
async def test_the_engine_stays_up_with_empty_results_when_the_server_breaks(fake_server):
    engine = Engine(Config(backend="remote", remote_url=fake_server))
    engine.documents.open("file:///g.py", "python", 1, "x = ")
    assert engine.start().result().state == "ready"
    with pytest.raises(RemoteError):  # the server layer turns this into an empty list and a log line
        await engine.complete("file:///g.py", 4)
    engine.documents.open("file:///h.py", "python", 1, "y = ")
    with pytest.raises(RemoteError):
        await engine.complete("file:///h.py", 4)  # still answering, one clear error each
    engine.shutdown()


@needs_torch
@pytest.mark.model
def test_out_of_device_memory_is_one_clear_error_and_the_cache_stays_consistent(load_local, monkeypatch):
    import torch

    backend = load_local("torch")
    tokens = backend.tokenize("def f(x):\n    return", add_bos=True)
    backend.evaluate(tokens)

    runner = backend.runner
    evaluate = runner.evaluate

    def one_token_then_oom(chunk: list[int]) -> object:
        evaluate(chunk[:1])  # part of the tokens reach the cache before the failure
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(runner, "evaluate", one_token_then_oom)
    with pytest.raises(DeviceMemoryError, match="out of memory on cpu evaluating 3 tokens"):
        backend.evaluate(tokens[:3])
    assert backend.n_cached == len(tokens)


@needs_torch
def test_out_of_memory_while_loading_falls_back_under_auto(monkeypatch, tmp_path):
    import transformers

    def oom(*args: object, **kwargs: object) -> object:
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", oom)
    with pytest.raises(DeviceMemoryError, match="out of memory loading"):
        load_backend("torch", ModelSpec(str(tmp_path)))
    monkeypatch.setattr(models_module, "resolve_backend_name", lambda name, *_: "torch" if name == "auto" else name)
    monkeypatch.setattr(models_module, "model_spec", lambda config, name: ModelSpec(str(embedded_model_path()), 512))
    backend = load_model(Config(backend="auto"))
    assert type(backend).__name__ == "LlamaCppBackend"
    backend.close()
