"""The completion engine: one model on one worker thread; requests are held until there is something to show.

``complete`` runs on the event loop only for the cheap part: reading the document, extracting the context, and
answering from a suggestion the user is typing into. Prefill and decoding run on the model worker. A request is
answered as soon as its answer is worth showing (see :mod:`.answers`), when a newer request for the document
supersedes it (at once, empty), or at the hold cap. One decode runs per document, and a request whose typed text
agrees with it is answered from it instead of starting another. When a request had to be answered without the
suggestion, ``on_ready`` tells the server once it is ready, so that our own editor clients can ask again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial

from smallcoder_lsp.backends.base import Backend, Generator
from smallcoder_lsp.completion.answers import agrees, ready_text
from smallcoder_lsp.completion.budget import Throughput
from smallcoder_lsp.completion.guesses import Guesses, after_enter
from smallcoder_lsp.completion.jobs import HeldRequest, Job, JobBoard
from smallcoder_lsp.completion.result import CAPPED, MODEL, NONE, PARTIAL, SUPERSEDED, TYPED, Completion
from smallcoder_lsp.completion.suggestions import Suggestion, SuggestionCache
from smallcoder_lsp.completion.worker import ModelStatus, ModelWorker
from smallcoder_lsp.config import Config
from smallcoder_lsp.context.documents import Document, DocumentStore
from smallcoder_lsp.context.extract import LINE_COMPLETE, CompletionContext, extract_context
from smallcoder_lsp.context.extract import NONE as NO_COMPLETION
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.stream import GenerationStats
from smallcoder_lsp.errors import Cancelled, DocumentError, SmallcoderError

log = logging.getLogger(__name__)

ReadyCallback = Callable[[str, int, int], None]
"""``on_ready(uri, version, offset)``: a suggestion is ready where an earlier request got none."""


@dataclass(frozen=True)
class Unserved:
    """A request that was answered without the suggestion its decode was still writing."""

    job: Job
    version: int
    text: bytes
    offset: int
    ctx: CompletionContext
    shown: str


class Engine:
    def __init__(
        self,
        config: Config,
        documents: DocumentStore | None = None,
        on_status: Callable[[ModelStatus], None] | None = None,
        loader: Callable[[Config], Backend | Generator] | None = None,
        on_ready: ReadyCallback | None = None,
    ) -> None:
        self.documents = documents or DocumentStore()
        self.throughput = Throughput()
        self.worker = ModelWorker(config, self.throughput, loader, on_status)
        self.board = JobBoard()
        self.suggestions = SuggestionCache()
        self.guesses = Guesses(self.worker, self.board, self.documents, self.context_at)
        self.on_ready = on_ready
        self.last_stats: GenerationStats | None = None
        self.last_raw_text = ""
        """The model's text for ``last_stats``, before postprocessing (the bench checks its syntax)."""
        self.last_source = ""
        """Where the last answer came from (``Completion.source``)."""
        self._unserved: dict[str, Unserved] = {}

    # -- lifecycle --------------------------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self.worker.config

    @config.setter
    def config(self, config: Config) -> None:
        self.worker.config = config

    @property
    def status(self) -> ModelStatus:
        return self.worker.status

    def start(self) -> Future[ModelStatus]:
        """Load the model on the worker; requests queue behind the load."""
        return self.worker.start()

    def reconfigure(self, config: Config) -> bool:
        """Take new settings; reload the model (on the worker) if a model setting changed."""
        if self.worker.needs_reload(config):
            self.board.cancel_all("model settings changed")
        return self.worker.reconfigure(config)

    def shutdown(self, wait: bool = False) -> None:
        self.board.cancel_all("shutting down")
        self.worker.shutdown(wait)

    def forget(self, uri: str) -> None:
        """A document was closed: drop its suggestions, its decode and (on the worker, which owns it) its KV state."""
        self.suggestions.forget(uri)
        self.board.forget(uri)
        self.guesses.forget(uri)
        self._unserved.pop(uri, None)

        def drop() -> None:
            if self.worker.runtime is not None:
                self.worker.runtime.forget(uri)

        self.worker.submit(drop)

    def warm(self, uri: str, offset: int | None = None) -> Future[None] | None:
        """Prefill ``uri``'s prompt at ``offset`` (default: the end) in the background (see :mod:`.guesses`)."""
        return self.guesses.warm(uri, offset)

    def claim(self, key: str) -> CancelToken:
        """A cancel token for a step-wise request under ``key``; an older one under the same key is cancelled, and
        so is a prefetch (it would hold the worker)."""
        self.board.cancel_prefetches("a docstring was asked for")
        return self.board.claim(key)

    def release(self, key: str, token: CancelToken) -> None:
        self.board.unclaim(key, token)

    # -- completion -------------------------------------------------------------------------------------------

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
        prefix_chars = self.throughput.prefix_chars(cfg.prefix_tokens)
        return extract_context(doc, offset, prefix_chars, self.throughput.chars(cfg.suffix_tokens), others)

    async def complete(self, uri: str, offset: int, *, invoked: bool = False) -> Completion:
        """Complete at byte ``offset`` of ``uri``, holding the request until there is something to show.

        Automatic requests are answered within ``holdMs``; invoked ones wait for the finished suggestion.
        A request superseded by a newer one for the same document is answered at once, empty.
        """
        completion = await self._answer(uri, offset, invoked)
        self.last_source = completion.source
        return completion

    async def _answer(self, uri: str, offset: int, invoked: bool) -> Completion:
        self._unserved.pop(uri, None)
        if not self.config.completion.enabled:
            return Completion("", offset, source=NONE, reason="completions are turned off (completion.enabled)")
        doc = self.documents.get(uri)
        ctx = self.context_at(uri, offset, doc)
        text = doc.text  # bytes are immutable: a snapshot of the document as the request saw it
        if ctx.mode == NO_COMPLETION:
            log.debug("no completion at %s:%d: %s", uri, offset, ctx.reason)
            if ctx.reason == LINE_COMPLETE:
                self._prefetch(uri, text, ctx, offset, "")
            return Completion("", offset, ctx.line_prefix, source=NONE, reason=f"no completion expected: {ctx.reason}")
        hit = self.suggestions.lookup(uri, text, offset)
        if hit is not None:
            suggestion, rest = hit
            return Completion(rest, offset, ctx.line_prefix, suggestion.multiline, source=TYPED)
        held = self.board.hold(uri)
        try:
            job = self.board.decode(uri)
            if job is None or not agrees(job, text, offset, invoked):
                job = self._submit(uri, text, ctx, offset, invoked)
            return await self._hold(held, job, doc.version, text, offset, ctx, invoked)
        finally:
            self.board.release(held)

    async def _hold(
        self,
        held: HeldRequest,
        job: Job,
        version: int,
        text: bytes,
        offset: int,
        ctx: CompletionContext,
        invoked: bool,
    ) -> Completion:
        cfg = self.config.completion
        loop = asyncio.get_running_loop()
        started = loop.time()
        cap = None if invoked else cfg.hold_ms / 1000
        block_wait = cfg.block_wait_ms / 1000
        typed_into = job.live.anchor != offset

        def answer(shown: str, source: str, reason: str = "", stats: GenerationStats | None = None) -> Completion:
            multiline = ctx.multiline or "\n" in shown
            return Completion(shown, offset, ctx.line_prefix, multiline, stats, source, "" if shown else reason)

        try:
            while True:
                waited = loop.time() - started
                done = job.done
                try:
                    shown = None if invoked and not done else ready_text(job, text, offset, ctx, waited >= block_wait)
                except Cancelled as exc:  # the decode was stopped under this request: the user moved on
                    return answer("", SUPERSEDED, str(exc))
                if shown is not None:
                    result = job.future.result() if done and job.future is not None else None
                    if not done:
                        self._note_unserved(job, version, text, offset, ctx, shown)
                    source = TYPED if typed_into else (MODEL if done else PARTIAL)
                    return answer(shown, source, result.reason if result else "", result.stats if result else None)
                if held.superseded.done():
                    return answer("", SUPERSEDED, "a newer request for this document came")
                remaining = None if cap is None else cap - waited
                if remaining is not None and remaining <= 0:
                    self._note_unserved(job, version, text, offset, ctx, "")
                    return answer("", CAPPED, f"nothing was ready within holdMs ({cfg.hold_ms} ms)")
                timeout = remaining
                if ctx.multiline and waited < block_wait:
                    timeout = block_wait - waited if timeout is None else min(timeout, block_wait - waited)
                waiting = {job.progressed(), held.superseded}
                await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            if invoked:
                job.cancel.cancel("cancelled by the client")
            else:  # the decode goes on: the next keystrokes may type into it, and our clients hear when it is ready
                self._note_unserved(job, version, text, offset, ctx, "")
            raise

    def _submit(self, uri: str, text: bytes, ctx: CompletionContext, offset: int, invoked: bool) -> Job:
        loop = asyncio.get_running_loop()
        job = Job(uri, Suggestion.at(text, offset, multiline=ctx.multiline, done=False), ctx, invoked, loop)
        self.guesses.moved_to(uri, offset, ctx)
        return self._start(job, self._decode_on_worker, text, offset)

    def _start(self, job: Job, decode: Callable[[Job, bytes, int], Completion], text: bytes, offset: int) -> Job:
        self.board.start(job)
        job.attach_future(self.worker.submit(decode, job, text, offset, cancel=job.cancel))
        assert job.future is not None
        job.future.add_done_callback(lambda _: self.board.finished(job))
        return job

    def _decode_on_worker(self, job: Job, text: bytes, offset: int) -> Completion:
        job.cancel.check()  # superseded while it waited for the worker
        runtime = self.worker.require_runtime()
        # A failure here leaves the backend in doubt; the worker resets it (or loads it again) and says so.
        outcome = runtime.generate(job.uri, job.ctx, job.invoked, job.cancel, job.grow)
        generation = outcome.generation
        if not job.prefetched:  # a prefetch's figures are not a request's
            self.last_stats, self.last_raw_text = generation.stats, generation.text
        log.debug("completion %r -> %r (%s)", generation.text, outcome.text, generation.stats)
        job.live.grow(outcome.text, done=True)
        self.suggestions.remember(job.uri, job.live)
        # The line ends here: the suggestion's last line, or, when the model wrote nothing but a line break, the
        # line as typed. What follows it is decoded next, while the user reads or types it.
        line_done = not generation.text.strip() and generation.stats.stop_reason == "line_end"
        if runtime.local and not job.prefetched and (outcome.text or line_done) and not job.loop.is_closed():
            job.loop.call_soon_threadsafe(self._prefetch, job.uri, text, job.ctx, offset, outcome.text, job)
        return Completion(
            outcome.text, offset, job.ctx.line_prefix, job.ctx.multiline, generation.stats, MODEL, outcome.reason
        )

    # -- prefetching the next line ----------------------------------------------------------------------------

    def _prefetch(
        self, uri: str, text: bytes, ctx: CompletionContext, offset: int, shown: str, after: Job | None = None
    ) -> None:
        """On the loop: decode, as the document's decode, what would follow if ``shown`` were accepted at
        ``offset`` of ``text`` and Enter pressed; a request at the new line is answered from it (see
        :mod:`.guesses`). Not over another decode a request is waiting on (``after`` is the one that wrote
        ``shown``), nor twice for the same place."""
        runtime = self.worker.runtime
        if not self.config.completion.prefetch or runtime is None or not runtime.local or uri not in self.documents:
            return
        ahead = after_enter(text, ctx, offset, shown)
        if ahead is None:
            return
        future, anchor = ahead
        live = Suggestion.at(future, anchor, done=False)
        current = self.board.decode(uri)
        if after is not None and current is not after:
            return  # a newer request came since
        if current is not None and current is not after and not current.done and not current.prefetched:
            return  # a request's decode: it is what the user waits for
        if current is not None and current.prefetched and current.live.rest_after(future, anchor) is not None:
            return  # already decoding there
        loop = asyncio.get_running_loop()
        job = Job(uri, live, ctx, invoked=False, loop=loop, prefetched=True)
        self._start(job, partial(self._prefetch_on_worker, ctx.language_id), future, anchor)

    def _prefetch_on_worker(self, language_id: str, job: Job, text: bytes, offset: int) -> Completion:
        job.cancel.check()
        job.ctx = self.context_at(job.uri, offset, Document(job.uri, language_id, 0, text))
        job.live.multiline = job.ctx.multiline
        if job.ctx.mode == NO_COMPLETION:
            job.live.grow("", done=True)
            return Completion("", offset, job.ctx.line_prefix, source=NONE, reason=job.ctx.reason)
        return self._decode_on_worker(job, text, offset)

    # -- telling our clients when a suggestion is ready -------------------------------------------------------

    def _note_unserved(
        self, job: Job, version: int, text: bytes, offset: int, ctx: CompletionContext, shown: str
    ) -> None:
        if self.on_ready is None or job.invoked or job.done:
            return
        self._unserved[job.uri] = Unserved(job, version, text, offset, ctx, shown)
        if self._check_unserved not in job.watchers:
            job.watchers.append(self._check_unserved)

    def _check_unserved(self, job: Job) -> None:
        """On the loop, after ``job`` progressed: tell ``on_ready`` if it now has more than was shown."""
        entry = self._unserved.get(job.uri)
        if entry is None or entry.job is not job:
            return
        if job.uri not in self.documents or self.documents.get(job.uri).version != entry.version:
            del self._unserved[job.uri]
            return
        try:
            shown = ready_text(job, entry.text, entry.offset, entry.ctx, block_ready=job.done)
        except SmallcoderError:
            shown = ""
        if shown is None:
            return
        del self._unserved[job.uri]
        if shown and shown != entry.shown and self.on_ready is not None:
            self.on_ready(job.uri, entry.version, entry.offset)
