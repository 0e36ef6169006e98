"""The model's lifecycle: one worker thread that loads the model, runs everything that touches it, and reloads it
when the model settings change or a failure left it in doubt.

Everything that touches the backend (prefill, decoding, saving KV states) runs on this one thread, in the order
it was submitted; the event loop only ever waits on futures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from smallcoder_lsp.backends.base import Backend, Generator
from smallcoder_lsp.completion.budget import Throughput
from smallcoder_lsp.completion.runtime import Runtime
from smallcoder_lsp.config import Config
from smallcoder_lsp.errors import ModelLoadError, SmallcoderError
from smallcoder_lsp.models.files import EMBEDDED_NAME
from smallcoder_lsp.models.loading import load_model, resolve_backend_name

log = logging.getLogger(__name__)

T = TypeVar("T")

# Settings whose change needs the model loaded again.
MODEL_FIELDS = ("model", "backend", "context_length", "threads", "remote_url", "remote_timeout_ms")


@dataclass(frozen=True)
class ModelStatus:
    state: str
    """``loading``, ``ready`` or ``error``."""
    backend: str = ""
    model: str = ""
    message: str = ""


class ModelWorker:
    def __init__(
        self,
        config: Config,
        throughput: Throughput,
        loader: Callable[[Config], Backend | Generator] | None = None,
        on_status: Callable[[ModelStatus], None] | None = None,
    ) -> None:
        self.config = config
        self.throughput = throughput
        self.loader = loader or load_model
        self.on_status = on_status
        self.status = ModelStatus("loading")
        self.runtime: Runtime | None = None
        self._load_error: SmallcoderError | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smallcoder-model")

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` on the model thread, after what was submitted before it."""
        return self._executor.submit(fn, *args)

    def start(self) -> Future[ModelStatus]:
        """Load the model on the worker; requests queue behind the load."""
        return self.submit(self._load)

    def require_runtime(self) -> Runtime:
        if self.runtime is None:
            raise self._load_error or ModelLoadError("no model is loaded")
        return self.runtime

    def needs_reload(self, config: Config) -> bool:
        return any(getattr(config, f) != getattr(self.config, f) for f in MODEL_FIELDS)

    def reconfigure(self, config: Config) -> bool:
        """Take new settings; reload the model (on the worker) if a model setting changed."""
        reload = self.needs_reload(config)
        self.config = config
        if self.runtime is not None:
            self.runtime.reconfigure(config)
        if reload:
            self.submit(self._load)
        return reload

    def recover(self, exc: BaseException) -> None:
        """On the worker, after a backend failed mid-job: its KV cache may hold half an evaluation, so start it
        over; if even that fails, load the model again."""
        runtime = self.runtime
        if runtime is None:
            return
        log.warning("the model failed (%s: %s); resetting its cache", type(exc).__name__, exc)
        try:
            runtime.reset()
        except Exception as again:  # the backend is beyond repair: a fresh load
            log.error("resetting the model failed (%s); loading it again", again)
            self._load()

    def shutdown(self, wait: bool = False) -> None:
        """Stop taking work. ``wait``: also let the running job end and release the model here, which a one-shot
        command needs (a native runtime torn down by interpreter exit while a thread still uses it aborts)."""
        if wait:
            self._executor.submit(self._close)
        self._executor.shutdown(wait=wait, cancel_futures=not wait)

    def _close(self) -> None:
        """On the worker: a backend may hold per-thread native state (mlx streams) that only this thread frees."""
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None

    def _set_status(self, status: ModelStatus) -> ModelStatus:
        self.status = status
        if self.on_status is not None:
            self.on_status(status)
        return status

    def _load(self) -> ModelStatus:
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None
        backend_name = resolve_backend_name(self.config.backend, self.config)
        model_name = self.config.model or EMBEDDED_NAME
        self._set_status(ModelStatus("loading", backend_name, model_name, f"loading {model_name}"))
        started = time.perf_counter()
        try:
            runtime = Runtime(self.loader(self.config), self.config, self.throughput)
        except SmallcoderError as exc:
            self._load_error = exc
            log.error("model failed to load: %s", exc)
            return self._set_status(ModelStatus("error", backend_name, model_name, str(exc)))
        self.runtime, self._load_error = runtime, None
        message = f"{model_name} ready on {backend_name} in {time.perf_counter() - started:.1f} s"
        message += f" (FIM: {runtime.fim.name})" if runtime.fim else " (prefix-only: no FIM tokens)"
        log.info("%s", message)
        return self._set_status(ModelStatus("ready", backend_name, model_name, message))
