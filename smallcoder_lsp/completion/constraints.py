"""The code around the cursor, turned into rules for the line being completed.

``LineMonitor`` applies the hard rules while decoding (a vetoed token makes way for the next best one):
- where the next code line is indented deeper, the line must open a block: it starts with a block keyword (when
  it starts at the cursor) and it ends with ``:``;
- brackets: the completion never closes a bracket nobody opened (its line may close those the lines above left
  open), nor one the rest of the line closes; a single-line completion does not end its line with brackets
  still open (for a while: then it may), except those the deeper lines below close: it must leave them open.
``penalties`` scores the soft rules on a finished candidate: a line that does not open the block or the
brackets the code below continues, one that opens a block where the code below does not continue one, and
names defined nowhere in the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smallcoder_lsp.context.demands import IDENTIFIER, LineDemands, code_of, line_brackets
from smallcoder_lsp.context.extract import CompletionContext
from smallcoder_lsp.decode.monitor import END

BLOCK_KEYWORDS = ("if", "elif", "else", "for", "while", "with", "try", "except", "finally", "def", "class",
                  "async", "match", "case")  # fmt: skip
LINE_END_PATIENCE = 8
"""How many line ends in a row the monitor may veto before it lets the line end anyway."""

UNDEFINED_NAME_PENALTY = 4.0
"""In nats (natural-log units of likelihood), for each name the candidate uses that is defined nowhere."""
UNWANTED_BLOCK_PENALTY = 3.0
MISSING_BLOCK_PENALTY = 12.0
# Names a line binds: assignment and for/with/except targets, definitions, keyword arguments, lambda parameters.
BINDINGS = re.compile(
    r"(?:\bfor\s+|\bas\s+|\bdef\s+|\bclass\s+|\blambda\s+|,\s*|^\s*|\(\s*)([A-Za-z_]\w*)(?=\s*(?:[,)=:]|\bin\b)(?!=))"
)


@dataclass
class LineMonitor:
    """Watches the first line of a completion (see the module docstring); ``allows`` is what decoding asks."""

    line_prefix: str
    demands: LineDemands
    multiline: bool
    vetoed_ends: int = 0

    def allows(self, text: str, piece: str) -> bool:
        if "\n" in text or self.demands.in_text:
            return True  # only the first line of code is watched
        ends = "\n" in piece or piece == END
        line = self.line_prefix + text + piece.split("\n", 1)[0]
        if not self._brackets_allow(line, ends) or not self._block_allows(line, ends):
            if ends:
                self.vetoed_ends += 1
                return self.vetoed_ends > LINE_END_PATIENCE
            return False
        return True

    def _brackets_allow(self, line: str, ends: bool) -> bool:
        typed = line_brackets(self.line_prefix)
        if typed is None or typed[1] > self.demands.open_above:
            return True  # the typed line closes brackets not seen open above: nothing can be checked within it
        scan = line_brackets(line)
        if scan is None or scan[1] > self.demands.open_above:
            return False  # a closer that does not match, or that closes a bracket nobody opened
        stack = scan[0]
        keep_open = len(self.demands.closers)
        if len(stack) < keep_open:
            return False  # it would close a bracket the rest of the line closes
        if not ends:
            return True
        if len(stack) < self.demands.open_below:
            return False  # the lines below close brackets this line must open
        return self.multiline or len(stack) <= max(keep_open, self.demands.open_below)

    def _block_allows(self, line: str, ends: bool) -> bool:
        if self.demands.opens_block is not True:
            return True
        if not self.line_prefix.strip():
            started = line.lstrip()
            word = IDENTIFIER.match(started)
            if started and word is None and not started.startswith("@"):
                return False
            if word is not None:
                name = word.group(0)
                complete = len(name) < len(started)
                if complete and name not in BLOCK_KEYWORDS:
                    return False
                if not complete and not any(k.startswith(name) for k in BLOCK_KEYWORDS):
                    return False
        return not ends or code_of(line).rstrip().endswith(":")


def bound_names(text: str) -> set[str]:
    """Names ``text`` binds itself (roughly): assignment targets, loop and ``as`` targets, definitions,
    parameters and keyword arguments."""
    return {m.group(1) for line in text.split("\n") for m in BINDINGS.finditer(code_of(line))}


def used_names(text: str) -> list[str]:
    """Free names ``text`` uses: identifiers outside strings and comments, not after a dot."""
    names = []
    for line in text.split("\n"):
        code = re.sub(r"(\"[^\"]*\"|'[^']*')", '""', code_of(line))
        for m in IDENTIFIER.finditer(code):
            before = code[: m.start()].rstrip()
            if not before.endswith(".") and not code[m.end() :].lstrip().startswith("="):
                names.append(m.group(0))
    return names


def undefined_names(candidate: str, ctx: CompletionContext) -> list[str]:
    """Names the candidate uses that the document does not know and the candidate does not bind."""
    line = ctx.line_prefix + candidate
    known = ctx.demands.names | bound_names(line)
    return [name for name in dict.fromkeys(used_names(line)) if name not in known]


def penalties(candidate: str, ctx: CompletionContext) -> tuple[float, list[str]]:
    """The soft-rule penalty of a finished candidate (in nats) and what it is for."""
    total, why = 0.0, list[str]()
    if ctx.demands.in_text:
        return total, why
    first = code_of((ctx.line_prefix + candidate).split("\n", 1)[0]).rstrip()
    opens = first.endswith(":")
    if ctx.demands.opens_block is True and not opens and "\n" not in candidate:
        total, why = total + MISSING_BLOCK_PENALTY, [*why, "does not open the block below"]
    scan = line_brackets(first)
    if ctx.demands.open_below and (scan is None or len(scan[0]) < ctx.demands.open_below):
        total, why = total + MISSING_BLOCK_PENALTY, [*why, "does not open the brackets the lines below close"]
    if ctx.demands.opens_block is False and opens:
        total, why = total + UNWANTED_BLOCK_PENALTY, [*why, "opens a block the code below does not continue"]
    for name in undefined_names(candidate, ctx):
        total, why = total + UNDEFINED_NAME_PENALTY, [*why, f"uses '{name}', defined nowhere"]
    return total, why
