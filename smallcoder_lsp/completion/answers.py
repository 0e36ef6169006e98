"""What a request can be answered with, from a decode that may still be running.

A request is held until its answer is worth showing: the rest of a suggestion the user is typing into, the
first complete line of the running decode (for a block: the whole block, or the whole lines ready once
``blockWaitMs`` has passed, with a docstring still being written closed after them), or the decode's end,
even when it ends with nothing.
"""

from __future__ import annotations

from smallcoder_lsp.completion.jobs import Job
from smallcoder_lsp.completion.postprocess import postprocess
from smallcoder_lsp.context.extract import CompletionContext


def whole_lines(text: str) -> str:
    """The complete lines of a growing text (up to its last line break)."""
    return text[: text.rfind("\n")] if "\n" in text else ""


def closed_docstring(lines: str, indent: str) -> str:
    """Whole lines of a block that stop inside a triple-quoted string (a docstring the model is still writing),
    with the string closed after them: on its line if it has only that one, else on a line of its own. Lines
    that are not inside one, or whose string has no text yet, are returned as they are."""
    for quote in ('"""', "'''"):
        if lines.count(quote) % 2 == 0:
            continue
        body = lines[lines.rfind(quote) + len(quote) :]
        if not body.strip():
            return lines
        return lines + quote if "\n" not in body else f"{lines}\n{indent}{quote}"
    return lines


def ready_text(job: Job, text: bytes, offset: int, ctx: CompletionContext, block_ready: bool) -> str | None:
    """What ``job`` offers a cursor at ``offset`` of the document ``text`` now; None while nothing is ready.

    Raises what the job raised, if it failed. A finished job offers its (possibly empty) rest; a running one
    offers its first complete line, or for a block (``ctx.multiline``) its whole lines once ``block_ready``,
    when what is left of them after trimming is not empty.
    """
    if job.done:
        assert job.future is not None
        job.future.result()  # re-raises the job's failure
        return job.live.rest_after(text, offset) or ""
    rest = job.live.rest_after(text, offset)
    if rest is None:
        return None  # the typed text left the running decode; the caller decides
    if ctx.multiline:
        if not block_ready:
            return None
        lines = closed_docstring(whole_lines(rest), ctx.indent)
    else:
        lines = rest.split("\n", 1)[0] if "\n" in rest else ""
    # A line trimmed away is not an answer while the decode runs: it may still find one (candidates.rescue).
    return (postprocess(lines, ctx) if lines.strip() else "") or None


def agrees(job: Job | None, text: bytes, offset: int, invoked: bool) -> bool:
    """Whether a request at ``offset`` of ``text`` can be answered from ``job`` rather than a new decode."""
    if job is None or job.cancel.cancelled or (invoked and not job.invoked):
        return False
    if job.done and job.future is not None and job.future.exception() is not None:
        return False
    return job.live.rest_after(text, offset) is not None
