"""The completion engine: one model on one worker thread, the newest request per document wins.

``complete`` runs on the event loop only for the cheap part (reading the document, extracting the context,
answering from a suggestion the user is typing into); prefill and decoding run on the single model worker,
so the loop never blocks on the model. An automatic request is answered at a deadline with what is ready,
and the worker goes on decoding into the suggestion cache, which serves the next keystrokes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from smallcoder_lsp.backends import resolve_backend_name
from smallcoder_lsp.backends.base import Backend, Generator
from smallcoder_lsp.budget import Throughput
from smallcoder_lsp.config import Config
from smallcoder_lsp.context.documents import Document, DocumentStore
from smallcoder_lsp.context.extract import NONE, CompletionContext, extract_context
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.stepwise import GreedyBan, step
from smallcoder_lsp.decode.stream import GenerationStats
from smallcoder_lsp.errors import (
    Cancelled,
    DocumentError,
    ModelLoadError,
    SmallcoderError,
)
from smallcoder_lsp.models import EMBEDDED_NAME, load_model
from smallcoder_lsp.postprocess import postprocess
from smallcoder_lsp.runtime import Runtime, fit_to_context
from smallcoder_lsp.suggestions import Suggestion, SuggestionCache

log = logging.getLogger(__name__)

# Settings whose change needs the model loaded again.
MODEL_FIELDS = ("model", "backend", "context_length", "threads", "remote_url", "remote_timeout_ms")


@dataclass(frozen=True)
class ModelStatus:
    state: str
    """``loading``, ``ready`` or ``error``."""
    backend: str = ""
    model: str = ""
    message: str = ""


@dataclass(frozen=True)
class Completion:
    text: str
    """What to insert at ``offset``; empty when there is nothing worth showing."""
    offset: int
    line_prefix: str = ""
    """The cursor line before the cursor, when the request was made."""
    multiline: bool = False
    stats: GenerationStats | None = None
    source: str = "model"
    """``model`` (a finished generation), ``partial`` (what was ready at the deadline), ``typed`` (the rest
    of a suggestion the user is typing into: no model call) or ``none``."""


@dataclass
class Job:
    """A generation on the worker, and the suggestion it is writing (its text grows as tokens come)."""

    cancel: CancelToken
    live: Suggestion
    invoked: bool = False
    future: Future[Completion] | None = field(default=None, repr=False)


class Engine:
    def __init__(
        self,
        config: Config,
        documents: DocumentStore | None = None,
        on_status: Callable[[ModelStatus], None] | None = None,
        loader: Callable[[Config], Backend | Generator] | None = None,
    ) -> None:
        self.config = config
        self.loader = loader or load_model
        self.documents = documents or DocumentStore()
        self.on_status = on_status
        self.status = ModelStatus("loading")
        self.last_stats: GenerationStats | None = None
        self.last_raw_text = ""
        """The model's text for ``last_stats``, before postprocessing (the bench checks its syntax)."""
        self.last_source = ""
        """Where the last answer came from: ``model``, ``partial``, ``typed`` or ``none`` (see Completion)."""
        self.throughput = Throughput()
        self.suggestions = SuggestionCache()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smallcoder-model")
        self._runtime: Runtime | None = None
        self._load_error: SmallcoderError | None = None
        self._inflight: dict[str, Job] = {}
        self._claims: dict[str, CancelToken] = {}
        """Step-wise generations (docstrings) by key."""
        self._background: list[CancelToken] = []
        """Warm-ups and prefetches: guesses, cancelled by any real request."""
        self._last_offset: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- model lifecycle -------------------------------------------------------------------------------

    def start(self) -> Future[ModelStatus]:
        """Load the model on the worker; requests queue behind the load."""
        return self._executor.submit(self._load)

    def _set_status(self, status: ModelStatus) -> ModelStatus:
        self.status = status
        if self.on_status is not None:
            self.on_status(status)
        return status

    def _load(self) -> ModelStatus:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
        backend_name = resolve_backend_name(self.config.backend)
        model_name = self.config.model or EMBEDDED_NAME
        self._set_status(ModelStatus("loading", backend_name, model_name, f"loading {model_name}"))
        started = time.perf_counter()
        try:
            runtime = Runtime(self.loader(self.config), self.config, self.throughput)
        except SmallcoderError as exc:
            self._load_error = exc
            log.error("model failed to load: %s", exc)
            return self._set_status(ModelStatus("error", backend_name, model_name, str(exc)))
        self._runtime, self._load_error = runtime, None
        message = f"{model_name} ready on {backend_name} in {time.perf_counter() - started:.1f} s"
        message += f" (FIM: {runtime.fim.name})" if runtime.fim else " (prefix-only: no FIM tokens)"
        log.info("%s", message)
        return self._set_status(ModelStatus("ready", backend_name, model_name, message))

    def reconfigure(self, config: Config) -> bool:
        """Take new settings; reload the model (on the worker) if a model setting changed."""
        reload = any(getattr(config, f) != getattr(self.config, f) for f in MODEL_FIELDS)
        self.config = config
        if self._runtime is not None:
            self._runtime.config = config
            if self._runtime.states is not None:
                self._runtime.states.budget_bytes = config.kv_states_mb * 2**20
        if reload:
            self.cancel_all("model settings changed")
            self._executor.submit(self._load)
        return reload

    def cancel_all(self, reason: str) -> None:
        with self._lock:
            jobs = [job.cancel for job in self._inflight.values()]
            for token in [*jobs, *self._claims.values(), *self._background]:
                token.cancel(reason)

    def shutdown(self) -> None:
        self.cancel_all("shutting down")
        self._executor.shutdown(wait=False, cancel_futures=True)

    def forget(self, uri: str) -> None:
        """A document was closed: drop its suggestions and (on the worker, which owns them) its KV state."""
        self.suggestions.forget(uri)

        def drop() -> None:
            if self._runtime is not None and self._runtime.states is not None:
                self._runtime.states.forget(uri)

        self._executor.submit(drop)

    def _require_runtime(self) -> Runtime:
        if self._runtime is None:
            raise self._load_error or ModelLoadError("no model is loaded")
        return self._runtime

    # -- completion -------------------------------------------------------------------------------------

    def context_at(self, uri: str, offset: int, doc: Document | None = None) -> CompletionContext:
        doc = doc or self.documents.get(uri)
        if doc.is_binary:
            raise DocumentError(f"{uri} looks binary (it contains NUL bytes); not completing it")
        if len(doc.text) > self.config.completion.max_file_bytes:
            raise DocumentError(
                f"{uri} is {len(doc.text)} bytes, over maxFileBytes ({self.config.completion.max_file_bytes})"
            )
        cfg = self.config.completion
        others = [self.documents.get(u) for u in self.documents.uris() if u != uri]
        prefix_chars = self.throughput.chars(cfg.prefix_tokens)
        return extract_context(doc, offset, prefix_chars, self.throughput.chars(cfg.suffix_tokens), others)

    async def complete(self, uri: str, offset: int, *, invoked: bool = False) -> Completion:
        """Complete at byte ``offset`` of ``uri``. An older request for the same document is superseded.

        Raises :class:`~smallcoder_lsp.errors.Cancelled` if this request is superseded or cancelled.
        """
        completion = await self._answer(uri, offset, invoked)
        self.last_source = completion.source
        return completion

    async def _answer(self, uri: str, offset: int, invoked: bool) -> Completion:
        if not self.config.completion.enabled:
            return Completion("", offset, source="none")
        doc = self.documents.get(uri)
        ctx = self.context_at(uri, offset, doc)
        if ctx.mode == NONE:
            log.debug("no completion at %s:%d: %s", uri, offset, ctx.reason)
            return Completion("", offset, ctx.line_prefix, source="none")
        typed = self._typed_through(uri, doc, offset, ctx)
        if typed is not None:
            return typed
        job = self._submit(uri, doc, ctx, offset, invoked)
        assert job.future is not None
        future = asyncio.wrap_future(job.future)
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # it may outlive this request
        deadline = self.config.completion.response_deadline_ms / 1000
        try:
            if invoked or deadline <= 0:
                return await future
            done, _ = await asyncio.wait({future}, timeout=deadline)
            if done:
                return future.result()
            # Answer with what is ready; the worker goes on into the suggestion cache.
            text = postprocess(job.live.text, ctx, partial=True)
            return Completion(text, offset, ctx.line_prefix, ctx.multiline, source="partial")
        except asyncio.CancelledError:
            if invoked:  # an automatic job keeps decoding for the keystrokes to come; it is bounded by timeoutMs
                job.cancel.cancel("cancelled by the client")
            raise

    def _typed_through(self, uri: str, doc: Document, offset: int, ctx: CompletionContext) -> Completion | None:
        """The rest of a suggestion the user has been typing into, finished or still generating."""
        hit = self.suggestions.lookup(uri, doc, offset)
        if hit is not None:
            suggestion, rest = hit
            return Completion(rest, offset, ctx.line_prefix, suggestion.multiline, source="typed")
        with self._lock:
            job = self._inflight.get(uri)
        if job is None or job.invoked or job.cancel.cancelled:
            return None
        ahead = job.live.rest_after(doc, offset)
        shown = postprocess(ahead, ctx, partial=True) if ahead else ""
        if not shown:
            return None  # it cannot serve this keystroke: a new job supersedes it
        return Completion(shown, offset, ctx.line_prefix, ctx.multiline, source="typed")

    def _submit(self, uri: str, doc: Document, ctx: CompletionContext, offset: int, invoked: bool) -> Job:
        job = Job(CancelToken(), Suggestion.at(doc, offset, multiline=ctx.multiline, done=False), invoked)
        self._last_offset[uri] = offset
        with self._lock:
            for token in self._background:  # a request in hand beats a guess
                token.cancel("a completion request came")
            previous = self._inflight.get(uri)
            if previous is not None:
                previous.cancel.cancel("superseded by a newer request")
            self._inflight[uri] = job
        job.future = self._executor.submit(self._complete_on_worker, uri, doc.text, ctx, offset, job)
        job.future.add_done_callback(lambda _: self._job_done(uri, job))
        return job

    def _job_done(self, uri: str, job: Job) -> None:
        with self._lock:
            if self._inflight.get(uri) is job:
                del self._inflight[uri]

    def _complete_on_worker(self, uri: str, text: bytes, ctx: CompletionContext, offset: int, job: Job) -> Completion:
        job.cancel.check()  # superseded while it waited for the worker
        runtime = self._require_runtime()
        shown, generation = runtime.generate(uri, ctx, job.invoked, job.cancel, job.live.grow)
        self.last_stats, self.last_raw_text = generation.stats, generation.text
        log.debug("completion %r -> %r (%s)", generation.text, shown, generation.stats)
        job.live.grow(shown, done=True)
        self.suggestions.remember(uri, job.live)
        if shown and self.config.completion.prefetch and runtime.local:
            self._prefetch(uri, text, ctx, offset, shown)
        return Completion(shown, offset, ctx.line_prefix, ctx.multiline, generation.stats)

    # -- guesses in the background: warm-ups and prefetches -------------------------------------------------

    def _background_job(self, work: Callable[[Runtime, CancelToken], None]) -> Future[None]:
        token = CancelToken()
        with self._lock:
            self._background.append(token)

        def run() -> None:
            try:
                if not token.cancelled and self._runtime is not None:
                    work(self._runtime, token)
            except Cancelled:
                pass
            except SmallcoderError as exc:
                log.debug("background work failed: %s", exc)
            finally:
                with self._lock:
                    self._background.remove(token)

        return self._executor.submit(run)

    def warm(self, uri: str, offset: int | None = None) -> Future[None] | None:
        """Prefill ``uri``'s prompt at ``offset`` (default: the end) in the background, so that the next
        request there is warm. Called on didOpen and on edits; skipped when the cursor has not moved far."""
        runtime = self._runtime
        local = runtime is None or runtime.local  # before the load finishes, assume a local model
        if not local or self.config.kv_states_mb <= 0 or not self.config.completion.enabled:
            return None
        try:
            offset = len(self.documents.get(uri).text) if offset is None else offset
            last, near = self._last_offset.get(uri), self.throughput.chars(self.config.completion.prefix_tokens) // 2
            if last is not None and abs(offset - last) < near:
                return None
            ctx = self.context_at(uri, offset)
        except SmallcoderError as exc:
            log.debug("not warming %s: %s", uri, exc)
            return None
        self._last_offset[uri] = offset
        return self._background_job(lambda runtime, token: runtime.warm(uri, ctx, token))

    def _prefetch(self, uri: str, text: bytes, ctx: CompletionContext, offset: int, shown: str) -> None:
        """Compute the suggestion that would follow if ``shown`` were accepted and Enter pressed."""
        last_line = (ctx.line_prefix + shown).split("\n")[-1]
        indent = last_line[: len(last_line) - len(last_line.lstrip())]
        if last_line.rstrip().endswith(":"):
            indent += "\t" if indent.startswith("\t") else "    "
        if ctx.line_suffix.strip():
            return  # accepting would not end the line
        inserted = (shown + "\n" + indent).encode("utf-8", "surrogatepass")
        future = Document(uri, ctx.language_id, 0, text[:offset] + inserted + text[offset:])
        anchor = offset + len(inserted)

        def work(runtime: Runtime, token: CancelToken) -> None:
            ahead = self.context_at(uri, anchor, future)
            if ahead.mode == NONE:
                return
            following, _ = runtime.generate(uri, ahead, False, token)
            self.suggestions.remember(uri, Suggestion.at(future, anchor, text=following, multiline=ahead.multiline))

        self._background_job(work)

    # -- step-wise generation (docstrings) ---------------------------------------------------------------

    def claim(self, key: str) -> CancelToken:
        """A cancel token for a request under ``key``; an older request under the same key is cancelled."""
        token = CancelToken()
        with self._lock:
            previous = self._claims.get(key)
            if previous is not None:
                previous.cancel("superseded by a newer request")
            self._claims[key] = token
        return token

    def release(self, key: str, token: CancelToken) -> None:
        with self._lock:
            if self._claims.get(key) is token:
                del self._claims[key]

    async def generate_line(self, prompt: str, max_tokens: int, cancel: CancelToken, stops: Sequence[str] = ()) -> str:
        """Greedy text after ``prompt`` up to a line break (or a ``stops`` string),
        one worker job per step.

        Completions queued meanwhile run between two steps, so this never holds the worker for more than one
        prefill chunk or one token.
        """
        loop = asyncio.get_running_loop()
        prompt_tokens = await loop.run_in_executor(self._executor, self._line_prompt_tokens, prompt, max_tokens)
        # A line break first would leave the part empty: refuse it (at most a few times) and take the next best.
        sampler, text, refusals = GreedyBan(), "", 0
        generated: list[int] = []
        try:
            while len(generated) < max_tokens:
                target = prompt_tokens + generated
                token = await loop.run_in_executor(self._executor, self._step, target, sampler, cancel)
                if token is None:
                    continue
                backend = self._require_runtime().backend
                if backend is None or token in backend.info.eos_ids:
                    break
                piece = backend.detokenize([token]).decode("utf-8", "ignore")
                if not generated and "\n" in piece and refusals < 4:
                    sampler.banned.add(token)
                    refusals += 1
                    continue
                sampler.banned.clear()
                generated.append(token)
                text = backend.detokenize(generated).decode("utf-8", "ignore")
                if "\n" in text.lstrip() or any(s in text for s in stops):
                    break
        except asyncio.CancelledError:
            cancel.cancel("cancelled by the client")
            raise
        return text

    def _line_prompt_tokens(self, prompt: str, max_tokens: int) -> list[int]:
        backend = self._require_runtime().backend
        if backend is None:
            raise ModelLoadError("docstrings need a local model (the remote backend streams text only)")
        limit = backend.info.context_length - max_tokens - 1
        return fit_to_context(backend.tokenize(prompt, add_bos=True), limit, keep_first=True)

    def _step(self, target: list[int], sampler: GreedyBan, cancel: CancelToken) -> int | None:
        session = self._require_runtime().session
        if session is None:
            raise ModelLoadError("docstrings need a local model (the remote backend streams text only)")
        return step(session, target, sampler, cancel)
