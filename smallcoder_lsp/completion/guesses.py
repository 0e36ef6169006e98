"""Work done before it is asked for: warm-ups and prefetches.

- A warm-up prefills the prompt a document would get at a position (on open, or when the cursor jumps far), so
  that the next request there starts warm. Any real request cancels it.
- A prefetch decodes the suggestion that would follow if the one just shown were accepted and Enter pressed, or,
  at the end of a finished line, the next line's. It runs as the document's decode (see the engine), so a request
  at the new line is answered from it, even while it still runs; a request anywhere else cancels it.
  :func:`after_enter` gives the document and the cursor it decodes for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Future

from smallcoder_lsp.completion.jobs import JobBoard
from smallcoder_lsp.completion.runtime import Runtime
from smallcoder_lsp.completion.worker import ModelWorker
from smallcoder_lsp.config import Config
from smallcoder_lsp.context.documents import Document, DocumentStore
from smallcoder_lsp.context.extract import CompletionContext
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.errors import Cancelled, SmallcoderError

log = logging.getLogger(__name__)

ContextAt = Callable[[str, int, Document], CompletionContext]

NEAR_BYTES = 256
"""A cursor this close to the last request or warm-up has not gone anywhere new: a keystroke, an accepted
suggestion. Farther, a warm-up is skipped only where the prompt window starts at the same line (the prompt there
is the one already prefilled, longer or shorter at its end)."""


class Guesses:
    def __init__(
        self,
        worker: ModelWorker,
        board: JobBoard,
        documents: DocumentStore,
        context_at: ContextAt,
    ) -> None:
        self.worker = worker
        self.board = board
        self.documents = documents
        self.context_at = context_at
        self._last: dict[str, tuple[int, int]] = {}
        """Per document, the offset of the last request or warm-up and the line its prompt window started at."""
        self._warming: CancelToken | None = None

    @property
    def config(self) -> Config:
        return self.worker.config

    def moved_to(self, uri: str, offset: int, ctx: CompletionContext) -> None:
        """A request came at ``offset`` with context ``ctx``: a warm-up with the same prompt would add nothing."""
        self._last[uri] = (offset, ctx.window_start_line)

    def forget(self, uri: str) -> None:
        self._last.pop(uri, None)

    def _run(self, work: Callable[[Runtime, CancelToken], None], token: CancelToken | None = None) -> Future[None]:
        token = token or self.board.guess()

        def run() -> None:
            try:
                if not token.cancelled and self.worker.runtime is not None:
                    work(self.worker.runtime, token)
            except Cancelled:
                pass
            except SmallcoderError as exc:
                log.debug("a guess failed: %s", exc)

        future = self.worker.submit(run, cancel=token)
        future.add_done_callback(lambda _: self.board.guess_done(token))  # run, failed or dropped unrun alike
        return future

    def warm(self, uri: str, offset: int | None = None) -> Future[None] | None:
        """Prefill ``uri``'s prompt at ``offset`` (default: the end) in the background; skipped where the last
        request or warm-up already prefilled that prompt (see ``NEAR_BYTES``)."""
        runtime = self.worker.runtime
        local = runtime is None or runtime.local  # before the load finishes, assume a local model
        if not local or self.config.kv_states_mb <= 0 or not self.config.completion.enabled:
            return None
        try:
            doc = self.documents.get(uri)
            offset = len(doc.text) if offset is None else offset
            last = self._last.get(uri)
            if last is not None and abs(offset - last[0]) < NEAR_BYTES:
                return None
            ctx = self.context_at(uri, offset, doc)
        except SmallcoderError as exc:
            log.debug("not warming %s: %s", uri, exc)
            return None
        if last is not None and ctx.window_start_line == last[1]:
            return None
        self._last[uri] = (offset, ctx.window_start_line)
        if self._warming is not None:  # only the newest warm-up is worth waiting for: the user is there now
            self._warming.cancel("a newer warm-up", interrupt=True)
        self._warming = self.board.guess()
        return self._run(lambda runtime, token: runtime.warm(uri, ctx, token), self._warming)


ENDS_BLOCK = re.compile(r"\s*(?:return|raise|pass|break|continue)\b")
"""A Python line after which editors give the next line one level less."""


def after_enter(text: bytes, ctx: CompletionContext, offset: int, shown: str) -> tuple[bytes, int] | None:
    """The document ``text`` as it would be if ``shown`` were accepted at ``offset`` and Enter pressed (with the
    indentation an editor gives the new line), and the cursor's offset there; None where that would not end the
    line."""
    if ctx.line_suffix.strip():
        return None
    last_line = (ctx.line_prefix + shown).split("\n")[-1]
    indent = last_line[: len(last_line) - len(last_line.lstrip())]
    unit = "\t" if indent.startswith("\t") else "    "
    if last_line.rstrip().endswith(":"):
        indent += unit
    elif ctx.language_id == "python" and ENDS_BLOCK.match(last_line) and indent.endswith(unit):
        indent = indent[: -len(unit)]  # as (Neo)Vim's Python indentation does; VS Code's Python extension too, but
        # for `return` only in some versions
    inserted = (shown + "\n" + indent).encode("utf-8", "surrogatepass")
    return text[:offset] + inserted + text[offset:], offset + len(inserted)
