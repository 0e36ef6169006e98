"""Trimming and checking a raw completion before it is shown.

Pure functions of the generated text and the :class:`CompletionContext`: cut at the end of the line or block,
drop what repeats the text after the cursor, drop repetition loops, and keep only what parses.
"""

from __future__ import annotations

from smallcoder_lsp.context.extract import CompletionContext
from smallcoder_lsp.context.syntax import block_probe, error_count
from smallcoder_lsp.decode.stopping import indent_width


def postprocess(text: str, ctx: CompletionContext, *, last_line_complete: bool = True) -> str:
    text = trim_to_block(text, ctx, last_line_complete=last_line_complete)
    text = drop_suffix_overlap(text, ctx)
    text = drop_repeated_lines(text)
    return keep_parseable(text, ctx)


def trim_to_block(text: str, ctx: CompletionContext, *, last_line_complete: bool = True) -> str:
    """Single-line: up to the line break. Multi-line: up to the first line that leaves the block."""
    if not ctx.multiline:
        return text.split("\n", 1)[0].rstrip()
    lines = text.split("\n")
    if not last_line_complete and len(lines) > 1:
        lines.pop()
    block = indent_width(ctx.indent)
    kept = [lines[0]]
    for line in lines[1:]:
        if line.strip() and indent_width(line) < block:
            break
        if block == 0 and not line.strip() and any(x.strip() for x in kept):
            break
        kept.append(line)
    return "\n".join(x.rstrip() for x in kept).rstrip()


def drop_suffix_overlap(text: str, ctx: CompletionContext) -> str:
    """Remove what the text after the cursor already has: the rest of the line, or the next lines."""
    rest = ctx.line_suffix.strip()
    if rest:
        if rest.startswith(text.strip()):
            return ""  # only repeats what follows the cursor
        if text.rstrip().endswith(rest):
            return text.rstrip()[: -len(rest)].rstrip()
    if not ctx.multiline:
        return text
    next_lines = [x.rstrip() for x in ctx.suffix.split("\n")[1:] if x.strip()]
    if not next_lines:
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if i > 0 and line.rstrip() == next_lines[0] and line.strip():
            return "\n".join(lines[:i]).rstrip()
    return text


def drop_repeated_lines(text: str) -> str:
    """Cut a completion where a non-trivial line repeats the line above it (a small model's loop)."""
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if lines[i].strip() and len(lines[i].strip()) > 3 and lines[i].strip() == lines[i - 1].strip():
            return "\n".join(lines[:i]).rstrip()
    return text


def _adds_no_error(ctx: CompletionContext, text: str, before: int) -> bool:
    after = error_count(ctx.language_id, ctx.prefix + text + ctx.suffix)
    if after is not None and after <= before:
        return True
    probe = block_probe(ctx.language_id)
    if probe and text.rstrip().endswith(":"):
        last = text.rstrip().split("\n")[-1]
        base = ctx.line_prefix + last if "\n" not in text else last
        body = "\n" + " " * (indent_width(base) + 4) + probe
        probed = error_count(ctx.language_id, ctx.prefix + text + body + ctx.suffix)
        return probed is not None and probed <= before
    return False


def keep_parseable(text: str, ctx: CompletionContext) -> str:
    """The longest run of whole lines of ``text`` that adds no ERROR or MISSING node; "" if none does."""
    if not text.strip():
        return ""
    before = error_count(ctx.language_id, ctx.prefix + ctx.suffix)
    if before is None:
        return text  # no grammar: nothing to check against
    lines = text.split("\n")
    for n in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:n]).rstrip()
        if candidate.strip() and _adds_no_error(ctx, candidate, before):
            return candidate
    return ""
