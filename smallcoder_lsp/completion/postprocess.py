"""Trimming and checking a raw completion before it is shown.

Pure functions of the generated text and the :class:`CompletionContext`: cut at the end of the line or block,
drop what repeats the text after the cursor, drop repetition loops, and keep only what parses.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

from smallcoder_lsp.context.demands import CLOSERS, OPENERS, bracket_stack, code_of
from smallcoder_lsp.context.extract import CompletionContext
from smallcoder_lsp.context.syntax import adds_errors, block_probe
from smallcoder_lsp.decode.stopping import indent_width


def postprocess(text: str, ctx: CompletionContext, *, last_line_complete: bool = True, partial: bool = False) -> str:
    """Trim and check ``text``. ``partial`` text is a generation still under way: then no closing brackets
    are added, so only a part that parses as it stands is kept."""
    return trim(text, ctx, last_line_complete=last_line_complete, partial=partial)[0]


def trim(
    text: str, ctx: CompletionContext, *, last_line_complete: bool = True, partial: bool = False
) -> tuple[str, str]:
    """``postprocess``, also naming the rule that left nothing of a non-empty text ("" if none did)."""
    steps: list[tuple[str, Callable[[str], str]]] = [
        ("it was only indentation", lambda t: drop_repeated_indent(t, ctx)),
        (
            "it ended the line at once",
            lambda t: trim_to_block(t, ctx, last_line_complete=last_line_complete and not partial),
        ),
        ("it repeated the text after the cursor", lambda t: drop_suffix_overlap(t, ctx)),
        ("it repeated the line above", lambda t: drop_repeated_lines(t, ctx)),
        ("it was a repetition loop", cut_loop),
        ("", (lambda t: t) if partial else (lambda t: balance_brackets(t, ctx))),
        ("it added a syntax error", lambda t: keep_parseable(t, ctx)),
    ]
    for rule, step in steps:
        before, text = text, step(text)
        if before.strip() and not text.strip():
            return "", rule
    return text, ""


def drop_repeated_indent(text: str, ctx: CompletionContext) -> str:
    """Where the editor has indented the line (the cursor follows indentation alone), drop the indentation the
    text starts with: the line is indented already, and more of it would only push the code right."""
    if not ctx.line_prefix or ctx.line_prefix.strip():
        return text
    return text.lstrip(" \t")


def trim_to_block(text: str, ctx: CompletionContext, *, last_line_complete: bool = True) -> str:
    """Single-line: up to the line break. Multi-line: up to the first line that leaves the block, without a
    last line that opens a block it does not fill."""
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
    kept = [x.rstrip() for x in kept]
    while len(kept) > 1 and (not kept[-1].strip() or code_of(kept[-1]).rstrip().endswith(":")):
        kept.pop()  # a block opener whose body was cut off: the block would be left empty
    return "\n".join(kept).rstrip()


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


NEAR_DUPLICATE = 0.9


def _near_duplicate(a: str, b: str) -> bool:
    a, b = a.strip(), b.strip()
    if len(a) <= 3 or len(b) <= 3:
        return False
    return a == b or (min(len(a), len(b)) > 10 and difflib.SequenceMatcher(None, a, b).ratio() >= NEAR_DUPLICATE)


def drop_repeated_lines(text: str, ctx: CompletionContext) -> str:
    """Cut a completion where a line (nearly) repeats the line above it: a small model's loop. The first
    line is compared with the document line above the cursor."""
    above = ctx.prefix.rsplit("\n", 2)[-2] if ctx.prefix.count("\n") >= 1 else ""
    lines = text.split("\n")
    if _near_duplicate(ctx.line_prefix + lines[0], above):
        return ""
    for i in range(1, len(lines)):
        if _near_duplicate(lines[i], lines[i - 1]):
            return "\n".join(lines[:i]).rstrip()
    return text


LOOP = re.compile(r"(.{3,}?)\1{7,}")


def cut_loop(text: str) -> str:
    """Cut where the model started repeating one unit eight or more times in a row (``', ']', ']', ...``)."""
    for match in LOOP.finditer(text):
        if any(ch.isalnum() or ch in "'\"" for ch in match.group(1)):
            return text[: match.start()].rstrip().rstrip(",")
    return text


def balance_brackets(text: str, ctx: CompletionContext) -> str:
    """Close, at the end of a single-line completion at a line end, the brackets its line opened and left
    open: the model stopped at the line end before closing them."""
    if ctx.multiline or not text.strip() or text.rstrip().endswith((",", "(", "[", "{", "\\")):
        return text
    opened = bracket_stack(ctx.line_prefix + text)
    if not opened or ctx.line_suffix.strip():
        return text  # with text after the cursor, the parse check decides
    return text + "".join(CLOSERS[OPENERS.index(b)] for b in reversed(opened))


def _adds_no_error(ctx: CompletionContext, text: str) -> bool | None:
    """Whether inserting ``text`` at the cursor keeps the window free of new syntax errors (None: no grammar).

    A completion ending in a block opener (``for x in y:``) is judged with a placeholder body after it.
    """
    head = ctx.frame + ctx.prefix
    at = len(head.encode("utf-8", "surrogatepass"))
    probe = block_probe(ctx.language_id)
    if probe and text.rstrip().endswith(":"):
        last = text.rstrip().split("\n")[-1]
        base = ctx.line_prefix + last if "\n" not in text else last
        if not body_follows(ctx.suffix, indent_width(base)):
            text = text + "\n" + " " * (indent_width(base) + 4) + probe
    end = at + len(text.encode("utf-8", "surrogatepass"))
    added = adds_errors(ctx.language_id, ctx.window, head + text + ctx.suffix, at, end)
    return None if added is None else not added


def body_follows(suffix: str, indent: int) -> bool:
    """Whether the next code line after the cursor line is indented deeper than ``indent``: a block opener
    completed here already has its body."""
    later = [line for line in suffix.split("\n")[1:] if line.strip() and not line.lstrip().startswith("#")]
    return bool(later) and indent_width(later[0]) > indent


def keep_parseable(text: str, ctx: CompletionContext) -> str:
    """The longest run of whole lines of ``text`` that adds no ERROR or MISSING node; "" if none does."""
    if not text.strip():
        return ""
    lines = text.split("\n")
    for n in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:n]).rstrip()
        if not candidate.strip():
            continue
        ok = _adds_no_error(ctx, candidate)
        if ok is None:
            return text  # no grammar: nothing to check against
        if ok:
            return candidate
    return ""
