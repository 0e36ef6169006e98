"""The completion engine: one model on one worker thread, the newest request per document wins.

``complete`` runs on the event loop only for the cheap part (reading the document, extracting the context);
tokenizing, prefill and decoding run on the single model worker, so the loop never blocks on the model.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from smallcoder_lsp.backends import load_backend, resolve_backend_name
from smallcoder_lsp.backends.base import Backend, ModelSpec
from smallcoder_lsp.budget import Throughput, fit_blocks
from smallcoder_lsp.config import Config
from smallcoder_lsp.context.documents import DocumentStore
from smallcoder_lsp.context.extract import NONE, CompletionContext, ContextBlock, extract_context
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.rerank import following_logprob, following_text
from smallcoder_lsp.decode.sampling import Sampler
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.decode.stepwise import GreedyBan, step
from smallcoder_lsp.decode.stopping import StopRules
from smallcoder_lsp.decode.stream import GenerationStats, complete
from smallcoder_lsp.errors import DocumentError, ModelLoadError, SmallcoderError
from smallcoder_lsp.models import EMBEDDED_NAME, resolve_model_path
from smallcoder_lsp.postprocess import postprocess
from smallcoder_lsp.prompt import FimTemplate, build_prompt, detect_fim_template

log = logging.getLogger(__name__)

RERANK_TEMPERATURE = 0.8

# Settings whose change needs the model loaded again.
MODEL_FIELDS = ("model", "backend", "context_length", "threads")


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


class Engine:
    def __init__(
        self,
        config: Config,
        documents: DocumentStore | None = None,
        on_status: Callable[[ModelStatus], None] | None = None,
        loader: Callable[[Config], Backend] | None = None,
    ) -> None:
        self.config = config
        self.loader = loader or load_model
        self.documents = documents or DocumentStore()
        self.on_status = on_status
        self.status = ModelStatus("loading")
        self.last_stats: GenerationStats | None = None
        self.last_raw_text = ""
        """The model's text for ``last_stats``, before postprocessing (the bench checks its syntax)."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smallcoder-model")
        self._backend: Backend | None = None
        self._session: Session | None = None
        self._fim: FimTemplate | None = None
        self._load_error: SmallcoderError | None = None
        self._inflight: dict[str, CancelToken] = {}
        self._lock = threading.Lock()
        self.throughput = Throughput()

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
        self._close_backend()
        backend_name = resolve_backend_name(self.config.backend)
        model_name = self.config.model or EMBEDDED_NAME
        self._set_status(ModelStatus("loading", backend_name, model_name, f"loading {model_name}"))
        started = time.perf_counter()
        try:
            backend = self.loader(self.config)
        except SmallcoderError as exc:
            self._load_error = exc
            log.error("model failed to load: %s", exc)
            return self._set_status(ModelStatus("error", backend_name, model_name, str(exc)))
        self._backend, self._session, self._load_error = backend, Session(backend), None
        self._fim = detect_fim_template(backend.info.special_tokens)
        seconds = time.perf_counter() - started
        message = f"{model_name} ready on {backend_name} in {seconds:.1f} s"
        message += f" (FIM: {self._fim.name})" if self._fim else " (prefix-only: no FIM tokens)"
        log.info("%s", message)
        return self._set_status(ModelStatus("ready", backend_name, model_name, message))

    def _close_backend(self) -> None:
        if self._backend is not None:
            self._backend.close()
        self._backend = self._session = None

    def reconfigure(self, config: Config) -> bool:
        """Take new settings; reload the model (on the worker) if a model setting changed."""
        reload = any(getattr(config, f) != getattr(self.config, f) for f in MODEL_FIELDS)
        self.config = config
        if reload:
            self.cancel_all("model settings changed")
            self._executor.submit(self._load)
        return reload

    def cancel_all(self, reason: str) -> None:
        with self._lock:
            for token in self._inflight.values():
                token.cancel(reason)

    def shutdown(self) -> None:
        self.cancel_all("shutting down")
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- completion -------------------------------------------------------------------------------------

    def context_at(self, uri: str, offset: int) -> CompletionContext:
        doc = self.documents.get(uri)
        if doc.is_binary:
            raise DocumentError(f"{uri} looks binary (it contains NUL bytes); not completing it")
        if len(doc.text) > self.config.completion.max_file_bytes:
            raise DocumentError(
                f"{uri} is {len(doc.text)} bytes, over maxFileBytes ({self.config.completion.max_file_bytes})"
            )
        cfg = self.config.completion
        others = [self.documents.get(uri) for uri in self.documents.uris() if uri != doc.uri]
        prefix_chars = self.throughput.chars(cfg.prefix_tokens)
        return extract_context(doc, offset, prefix_chars, self.throughput.chars(cfg.suffix_tokens), others)

    async def complete(self, uri: str, offset: int, *, invoked: bool = False) -> Completion:
        """Complete at byte ``offset`` of ``uri``. An older request for the same document is superseded.

        Raises :class:`~smallcoder_lsp.errors.Cancelled` if this request is superseded or cancelled.
        """
        if not self.config.completion.enabled:
            return Completion("", offset)
        ctx = self.context_at(uri, offset)
        if ctx.mode == NONE:
            log.debug("no completion at %s:%d: %s", uri, offset, ctx.reason)
            return Completion("", offset, ctx.line_prefix)
        token = CancelToken()
        with self._lock:
            previous = self._inflight.get(uri)
            if previous is not None:
                previous.cancel("superseded by a newer request")
            self._inflight[uri] = token
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self._complete_on_worker, ctx, offset, invoked, token)
        except asyncio.CancelledError:
            token.cancel("cancelled by the client")
            raise
        finally:
            with self._lock:
                if self._inflight.get(uri) is token:
                    del self._inflight[uri]

    def _complete_on_worker(
        self, ctx: CompletionContext, offset: int, invoked: bool, cancel: CancelToken
    ) -> Completion:
        cancel.check()  # superseded while it waited for the worker
        backend, session = self._backend, self._session
        if backend is None or session is None:
            raise self._load_error or ModelLoadError("no model is loaded")
        cfg = self.config.completion
        rules = StopRules(
            multiline=ctx.multiline,
            indent=ctx.indent,
            max_tokens=cfg.multiline_max_tokens if ctx.multiline else cfg.max_tokens,
            max_lines=cfg.max_lines,
            max_seconds=cfg.timeout_ms / 1000,
        )
        limit = backend.info.context_length - rules.max_tokens - 1

        def tokenize(blocks: Sequence[ContextBlock]) -> list[int]:
            prompt = build_prompt(ctx, self._fim, blocks)
            return fit_to_context(backend.tokenize(prompt.text, add_bos=prompt.add_bos), limit, prompt.add_bos)

        # An explicit request waits for the richest prompt; an automatic one must answer fast.
        budget = None if invoked else int(self.throughput.prefill_tok_s * cfg.first_token_target_ms / 1000)
        tokens = fit_blocks(ctx, session.tokens, tokenize, budget)
        if not cfg.reuse_cache:  # the bench's naive baseline: the same prompt, from an empty cache
            session.reset()
        generation = complete(session, tokens, rules, Sampler(cfg.temperature), cancel)
        self.last_stats, self.last_raw_text = generation.stats, generation.text
        self.throughput.observe(generation.stats, len(ctx.prefix) + sum(len(b.text) for b in ctx.blocks))
        last_line_complete = generation.stats.stop_reason not in ("max_tokens", "deadline", "context")
        text = postprocess(generation.text, ctx, last_line_complete=last_line_complete)
        log.debug("completion %r -> %r (%s)", generation.text, text, generation.stats)
        if invoked and self._fim is None and cfg.rerank_candidates > 1:
            text = self._rerank(session, ctx, tokens, rules, text, cancel)
        return Completion(text, offset, ctx.line_prefix, ctx.multiline, generation.stats)

    def _rerank(
        self,
        session: Session,
        ctx: CompletionContext,
        prompt: list[int],
        rules: StopRules,
        greedy: str,
        cancel: CancelToken,
    ) -> str:
        """Sample more candidates and keep the one after which the model finds the following lines likeliest."""
        following = following_text(ctx.suffix)
        if not following.strip():
            return greedy
        candidates = [greedy] if greedy else []
        for seed in range(1, self.config.completion.rerank_candidates):
            sampled = complete(session, prompt, rules, Sampler(RERANK_TEMPERATURE, seed=seed), cancel)
            complete_line = sampled.stats.stop_reason not in ("max_tokens", "deadline", "context")
            text = postprocess(sampled.text, ctx, last_line_complete=complete_line)
            if text and text not in candidates:
                candidates.append(text)
        if len(candidates) < 2:
            return greedy
        tokenize = session.backend.tokenize
        following_tokens = tokenize(following, add_bos=False)
        scores = []
        for text in candidates:
            context = prompt + tokenize(text, add_bos=False)
            if len(context) + len(following_tokens) > session.context_length:
                return greedy
            scores.append(following_logprob(session, context, following_tokens, cancel))
        best = max(range(len(candidates)), key=scores.__getitem__)
        log.debug("rerank %s -> %r", list(zip(candidates, scores, strict=True)), candidates[best])
        return candidates[best]

    # -- step-wise generation (docstrings) ---------------------------------------------------------------

    def claim(self, key: str) -> CancelToken:
        """A cancel token for a request under ``key``; an older request under the same key is cancelled."""
        token = CancelToken()
        with self._lock:
            previous = self._inflight.get(key)
            if previous is not None:
                previous.cancel("superseded by a newer request")
            self._inflight[key] = token
        return token

    def release(self, key: str, token: CancelToken) -> None:
        with self._lock:
            if self._inflight.get(key) is token:
                del self._inflight[key]

    async def generate_line(self, prompt: str, max_tokens: int, cancel: CancelToken, stops: Sequence[str] = ()) -> str:
        """Greedy text after ``prompt`` up to a line break (or a ``stops`` string),
        one worker job per step.

        Completions queued meanwhile run between two steps, so this never holds the worker for more than one
        prefill chunk or one token.
        """
        loop = asyncio.get_running_loop()
        prompt_tokens = await loop.run_in_executor(self._executor, self._prompt_tokens, prompt, max_tokens)
        # A line break first would leave the part empty: refuse it (at most a few times) and take the next best.
        sampler, text, refusals = GreedyBan(), "", 0
        generated: list[int] = []
        try:
            while len(generated) < max_tokens:
                target = prompt_tokens + generated
                token = await loop.run_in_executor(self._executor, self._step, target, sampler, cancel)
                if token is None:
                    continue
                if self._backend is None or token in self._backend.info.eos_ids:
                    break
                piece = self._backend.detokenize([token]).decode("utf-8", "ignore")
                if not generated and "\n" in piece and refusals < 4:
                    sampler.banned.add(token)
                    refusals += 1
                    continue
                sampler.banned.clear()
                generated.append(token)
                text = self._backend.detokenize(generated).decode("utf-8", "ignore")
                if "\n" in text.lstrip() or any(s in text for s in stops):
                    break
        except asyncio.CancelledError:
            cancel.cancel("cancelled by the client")
            raise
        return text

    def _prompt_tokens(self, prompt: str, max_tokens: int) -> list[int]:
        backend = self._backend
        if backend is None:
            raise self._load_error or ModelLoadError("no model is loaded")
        limit = backend.info.context_length - max_tokens - 1
        return fit_to_context(backend.tokenize(prompt, add_bos=True), limit, keep_first=True)

    def _step(self, target: list[int], sampler: GreedyBan, cancel: CancelToken) -> int | None:
        if self._session is None:
            raise self._load_error or ModelLoadError("no model is loaded")
        return step(self._session, target, sampler, cancel)


def load_model(config: Config) -> Backend:
    """Find the configured model file and load it with the configured backend."""
    path = resolve_model_path(config.model)
    return load_backend(config.backend, ModelSpec(str(path), config.context_length, config.threads))


def fit_to_context(tokens: list[int], limit: int, keep_first: bool) -> list[int]:
    """Keep the tail of a prompt that is longer than ``limit`` (and its BOS token)."""
    if len(tokens) <= limit:
        return tokens
    head = tokens[:1] if keep_first else []
    return head + tokens[len(tokens) - (limit - len(head)) :]
