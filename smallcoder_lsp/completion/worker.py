"""The model's lifecycle: one worker thread that loads the model, runs everything that touches it, puts it right
after a failure, and is replaced when a backend call hangs.

- Everything that touches the backend (prefill, decoding, saving KV states) runs on the worker thread, in the
  order it was submitted; the event loop only ever waits on futures.
- A waiting task whose cancel token is set is dropped at the next submit (its future fails with Cancelled), so a
  burst of keystrokes leaves the newest decode waiting, not one per keystroke.
- A task that fails with anything but a domain error leaves the backend in doubt (half an evaluation in its KV
  cache, memory run out): the cache is reset, or, if even that fails, the model is loaded again. The task's
  caller gets one :class:`BackendFailure` that says which.
- A watchdog times every backend call (:mod:`.guard`). A call that outlives ``backendHangMs`` is given up: its
  thread is abandoned (it leaks until the call returns, then exits and frees its model), the task fails, and a
  new worker thread loads the model again and runs what is queued.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from smallcoder_lsp.backends.base import Backend, Generator
from smallcoder_lsp.completion.budget import WHOLE_WINDOW_S, Throughput
from smallcoder_lsp.completion.guard import Abandoned, CallWatch, guard
from smallcoder_lsp.completion.runtime import Runtime
from smallcoder_lsp.config import Config
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.errors import BackendFailure, Cancelled, DeviceMemoryError, ModelLoadError, SmallcoderError
from smallcoder_lsp.models.auto import resolve_model
from smallcoder_lsp.models.ladder import display_name
from smallcoder_lsp.models.loading import load_model, release_thread, resolve_backend_name

log = logging.getLogger(__name__)

T = TypeVar("T")

# Settings whose change needs the model loaded again.
MODEL_FIELDS = (
    "model",
    "code_vocabulary",
    "requantize",
    "backend",
    "context_length",
    "threads",
    "remote_url",
    "remote_timeout_ms",
)


@dataclass(frozen=True)
class ModelStatus:
    state: str
    """``loading``, ``ready`` or ``error``."""
    backend: str = ""
    model: str = ""
    message: str = ""
    path: str = ""
    """The model file or folder the backend loaded (empty for a remote server, or until it is loaded)."""


@dataclass
class WorkerStats:
    """What the worker has been through, for ``smallcoder/status`` and the stress bench."""

    queued: int = 0
    """Tasks waiting now."""
    peak_queued: int = 0
    stale: int = 0
    """Cancelled tasks still waiting or running, after the last submit dropped what it could."""
    peak_stale: int = 0
    dropped: int = 0
    """Cancelled tasks dropped before they ran."""
    recoveries: int = 0
    """Failures after which the cache was reset or the model loaded again."""
    hangs: int = 0
    """Backend calls given up on (each abandoned one thread)."""
    threads: int = 0
    """Worker threads started (1 + hangs)."""
    kv_saved_bytes: int = 0
    kv_saved_documents: int = 0


@dataclass(eq=False)
class Task:
    future: Future[Any]
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    cancel: CancelToken | None = None


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
        self.stats = WorkerStats()
        self._load_error: SmallcoderError | None = None
        self._watch = CallWatch()
        self._queue: collections.deque[Task] = collections.deque()
        self._running: Task | None = None
        self._generation = 0
        self._retired: dict[int, Runtime] = {}
        self._lock = threading.Condition()
        self._closed = threading.Event()
        self._start_thread()
        threading.Thread(target=self._watchdog, name="smallcoder-watchdog", daemon=True).start()

    # -- the queue ---------------------------------------------------------------------------------------------

    def submit(self, fn: Callable[..., T], *args: Any, cancel: CancelToken | None = None) -> Future[T]:
        """Run ``fn(*args)`` on the model thread, after what was submitted before it. A task whose ``cancel``
        is set before it starts is not run: its future fails with Cancelled."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed.is_set():
                future.set_exception(Cancelled("the server is shutting down"))
                return future
            dropped = self._drop_cancelled()
            self._queue.append(Task(future, fn, args, cancel))
            self._count()
            self._lock.notify()
        for task in dropped:
            self._fail_cancelled(task)
        return future

    def _drop_cancelled(self) -> list[Task]:
        """Under the lock: take the waiting tasks whose token is set out of the queue."""
        dropped = [t for t in self._queue if t.cancel is not None and t.cancel.cancelled]
        if dropped:
            self._queue = collections.deque(t for t in self._queue if t not in dropped)
            self.stats.dropped += len(dropped)
        return dropped

    def _count(self) -> None:
        stats = self.stats
        stats.queued = len(self._queue)
        running = self._running
        stale_running = running is not None and running.cancel is not None and running.cancel.cancelled
        stats.stale = sum(1 for t in self._queue if t.cancel is not None and t.cancel.cancelled) + stale_running
        stats.peak_queued = max(stats.peak_queued, stats.queued)
        stats.peak_stale = max(stats.peak_stale, stats.stale)

    @staticmethod
    def _fail_cancelled(task: Task) -> None:
        if task.future.set_running_or_notify_cancel():
            reason = task.cancel.reason if task.cancel is not None else "cancelled"
            task.future.set_exception(Cancelled(reason))

    def _next(self, generation: int) -> Task | None:
        with self._lock:
            while not self._queue and not self._closed.is_set() and generation == self._generation:
                self._lock.wait()
            if generation != self._generation or not self._queue:
                return None
            task = self._running = self._queue.popleft()
            self._count()
            return task

    def _start_thread(self) -> None:
        """Under the lock (or before any thread runs): a new worker thread for the current generation."""
        self.stats.threads += 1
        name = f"smallcoder-model-{self.stats.threads}"
        self._thread = threading.Thread(target=self._serve, args=(self._generation,), name=name, daemon=True)
        self._thread.start()

    def _serve(self, generation: int) -> None:
        while (task := self._next(generation)) is not None:
            if task.cancel is not None and task.cancel.cancelled:
                self.stats.dropped += 1
                self._fail_cancelled(task)
            elif task.future.set_running_or_notify_cancel():
                self._run(task, generation)
            with self._lock:
                if self._generation == generation:
                    self._running = None
        retired = self._retired.pop(generation, None)
        if retired is not None:  # an abandoned thread whose hung call returned: free its model
            log.info("a backend call that was given up on has returned; its model is freed")
            retired.close()
        release_thread()

    def _run(self, task: Task, generation: int) -> None:
        try:
            try:
                result, error = task.fn(*task.args), None
            except Exception as exc:  # the task's caller gets it; this thread goes on
                result, error = None, exc
            if error is not None and self._generation == generation:
                error = self._after_failure(error)
        except Abandoned:
            return  # given up on while the call hung: the watchdog answered the task
        with self._lock:
            if self._generation != generation or task.future.done():
                return
            if error is None:
                task.future.set_result(result)
            else:
                task.future.set_exception(error)
        self._note_states()

    # -- failures ----------------------------------------------------------------------------------------------

    def _after_failure(self, exc: Exception) -> Exception:
        """What the task's caller gets; the backend is put right first when the failure leaves it in doubt."""
        if isinstance(exc, SmallcoderError) and not isinstance(exc, DeviceMemoryError):
            return exc  # a refusal or a cancellation: the backend is fine
        how = self.recover(exc)
        failure = BackendFailure(f"the model failed ({type(exc).__name__}: {exc}); {how}")
        failure.__cause__ = exc
        return failure

    def recover(self, exc: BaseException) -> str:
        """On the worker, after a backend failed mid-task: its KV cache may hold half an evaluation, so start it
        over; if even that fails, load the model again. Returns what was done, in words."""
        runtime = self.runtime
        if runtime is None:
            return "no model was loaded"
        self.stats.recoveries += 1
        log.warning("the model failed (%s: %s); resetting its cache", type(exc).__name__, exc)
        try:
            runtime.reset()
            return "it was reset"
        except Exception as again:  # the backend is beyond repair: a fresh load
            log.error("resetting the model failed (%s); loading it again", again)
            self._load()
            return "it was loaded again" if self.runtime is not None else "loading it again failed"

    def _watchdog(self) -> None:
        while not self._closed.wait(min(1.0, self.hang_limit_s / 4)):
            started = self._watch.started
            if started is not None and time.monotonic() - started > self.hang_limit_s:
                self._give_up(self._watch.call)

    @property
    def hang_limit_s(self) -> float:
        limit = self.config.backend_hang_ms / 1000
        if self.config.backend == "remote":  # the remote backend's own timeout must fire first
            limit = max(limit, 2 * self.config.remote_timeout_ms / 1000)
        return limit

    def _give_up(self, call: str) -> None:
        """On the watchdog: the running backend call hangs. Abandon its thread and load the model on a new one."""
        message = f"the model stopped answering ({call} ran over {self.hang_limit_s:g} s); it is loaded again"
        with self._lock:
            hung, self._running = self._running, None
            self._watch.abandoned = True
            self._watch = CallWatch()
            if self.runtime is not None:
                self._retired[self._generation] = self.runtime
                self.runtime = None
            self._generation += 1
            self.stats.hangs += 1
            self._queue.appendleft(Task(Future(), self._load, ()))
            self._start_thread()
        log.error("%s", message)
        if hung is not None and not hung.future.done():
            hung.future.set_exception(BackendFailure(message))
        self._set_status(ModelStatus("loading", self.status.backend, self.status.model, message))

    def _note_states(self) -> None:
        states = self.runtime.states if self.runtime is not None else None
        if states is not None:
            self.stats.kv_saved_bytes = states.saved_bytes
            self.stats.kv_saved_documents = len(states.saved_documents())

    # -- the model ---------------------------------------------------------------------------------------------

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

    def shutdown(self, wait: bool = False) -> None:
        """Stop taking work; waiting tasks are cancelled. ``wait``: also let the running task end and release the
        model on the worker thread, which a one-shot command needs (a native runtime torn down by interpreter exit
        while a thread still holds it aborts: mlx frees a thread's streams only when that thread asks)."""
        closing: Future[None] = Future()
        with self._lock:
            self._closed.set()
            waiting, self._queue = list(self._queue), collections.deque()
            if wait:
                self._queue.append(Task(closing, self._close, ()))
            self._lock.notify_all()
        for task in waiting:
            task.future.cancel()
        if wait:
            try:
                closing.result(timeout=self.hang_limit_s)
                self._thread.join(timeout=self.hang_limit_s)  # it may not be running native code at exit
            except Exception as exc:  # a hung or broken backend must not keep the process from exiting
                log.warning("the model was not released cleanly: %s", exc)

    def _close(self) -> None:
        """The last task of a closed worker: the thread's native state goes with the model, before the caller
        (and maybe the process) moves on."""
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None
        release_thread()

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
        model_name = display_name(self.config.model)
        loading = (
            "choosing the model (a self-test of each, once)" if self.config.auto_model else f"loading {model_name}"
        )
        self._set_status(ModelStatus("loading", backend_name, model_name, loading))
        started = time.perf_counter()
        try:
            config, why, rates = resolve_model(self.config, backend_name)
            if why:
                model_name = display_name(config.model)
                log.info("%s", why)
            self.throughput.loaded(rates.prefill_tok_s if rates is not None else None)  # not the last model's
            runtime = Runtime(guard(self.loader(config), self._watch), self.config, self.throughput)
        except SmallcoderError as exc:
            self._load_error = exc
            log.error("model failed to load: %s", exc)
            return self._set_status(ModelStatus("error", backend_name, model_name, str(exc)))
        self.runtime, self._load_error = runtime, None
        message = f"{model_name} ready on {backend_name} in {time.perf_counter() - started:.1f} s"
        message += f" (FIM: {runtime.fim.name})" if runtime.fim else " (prefix-only: no FIM tokens)"
        message += f"; {why}" if why else ""
        window = self.throughput.window_tokens
        if window is not None and window < self.config.completion.prefix_tokens:
            message += f"; a {window}-token window before the cursor (it prefills that in ~{WHOLE_WINDOW_S:g} s here)"
        log.info("%s", message)
        path = runtime.backend.info.path if runtime.backend is not None else ""
        return self._set_status(ModelStatus("ready", backend_name, model_name, message, path))
