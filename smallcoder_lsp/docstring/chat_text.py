"""Chat text out of an instruct model's answer, so that none of it reaches a docstring.

An instruct model answers like an assistant: "Sure! Here is a summary:", a fenced block, the function's name on a
line of its own, the answer in quotes or bold, "This function ..." or "The parameter `x` represents ..." before the
words a docstring needs, and a sentence of explanation after them. :func:`strip_chat_text` keeps those words alone:
the first line that is answer, not chat, up to a sentence that explains it.
"""

from __future__ import annotations

import re

END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<|im_start|>", "<|eot_id|>", "<end_of_turn>")
ROLE = re.compile(r"^\s*(<\|im_start\|>)?(assistant|system|user)\s*(:|\n)", re.I)
INTERJECTION = re.compile(r"^(sure|certainly|of course|okay|ok|absolutely|great|alright)\b[!,.:]*\s*", re.I)
PREAMBLE = re.compile(r"^(here('s| is| are)|below is|the following|this is)\b[^:]*:\s*", re.I)
LABEL = re.compile(r"^(one-line )?(summary|description|docstring|answer|returns?|raises?)\s*:\s*", re.I)
FENCE = re.compile(r"^(```|~~~)")
BULLET = re.compile(r"^([-*>]|\d+\.)\s+")
SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<=[A-Za-z0-9)\]`'\"])[.!?](?=\s)")
EXPLANATION = re.compile(
    r"\s+(this|these|that|it|note|in this|here|i|i'm|i've|let me|hope|feel free|the (above|code|function|method))\b",
    re.I,
)
"""How a sentence that explains the answer, rather than adding to it, begins."""
IS = r"(is|are|represents|specifies|denotes|indicates|refers to|stands for)"


def _quoted(name: str, bare: bool = True) -> str:
    """``name`` as an answer writes it: in backticks, in bold or (where ``bare``) as it is."""
    return rf"(`|\*\*){'?' if bare else ''}{re.escape(name)}(`|\*\*){'?' if bare else ''}"


def _lead_in(slot: str, name: str) -> re.Pattern[str]:
    """The words an answer puts before the description of ``slot`` of the definition ``name``."""
    definition = rf"(the|this) ({_quoted(name)} )?(function|method|class)( {_quoted(name)})?"
    # A bare name is no subject: ``escape`` may well begin "Escape HTML characters."
    subject = rf"({definition}|it|{_quoted(name, False)})"
    kind, _, target = slot.partition(":")
    if kind == "param":
        target = target.lstrip("*")
        where = rf"( (in|of) ({definition}|{_quoted(name)}))?"
        named = rf"((the )?(parameters?|arguments?) |the )?{_quoted(target)}( parameter| argument)?{where},? {IS}\s+"
        return re.compile(rf"^({named}|{_quoted(target)}\s*(\([^)]*\))?\s*[:-]\s+)", re.I)
    if kind == "returns":
        return re.compile(rf"^({subject} )?returns?\s+", re.I)
    if kind == "raises":
        return re.compile(rf"^({subject} )?raises?\s+({_quoted(target)}\s+)?", re.I)
    return re.compile(rf"^{subject}\s+((is )?(used|designed|meant) to |will |is (?=(a|an|the) ))?(?=[a-z])", re.I)


def _is_name_line(line: str, name: str) -> bool:
    """A line that only repeats the definition: ``name``, ``name(a, b)``, ``def name(a, b) -> int:``."""
    head = rf"((async )?def |class )?{_quoted(name)}"
    return re.fullmatch(rf"{head}\s*(\(.*\))?\s*(->.*)?:?", line) is not None


def _answer_line(line: str, name: str) -> str:
    """``line`` without its chat wrapping, or empty where it is all chat (a fence, a preamble, the name)."""
    line = BULLET.sub("", line.strip())
    if FENCE.match(line) or _is_name_line(line, name):
        return ""
    line = INTERJECTION.sub("", line)
    line = PREAMBLE.sub("", line) if PREAMBLE.match(line) else line
    line = LABEL.sub("", line.replace("**", "")).strip()
    while len(line) > 1 and line[0] == line[-1] and line[0] in "\"'`":
        line = line[1:-1].strip()
    return "" if _is_name_line(line, name) or not re.search(r"[A-Za-z]{2}", line) else line


def _answer(text: str, name: str) -> tuple[str, bool]:
    """The first answer line of ``text`` and whether the model has written the line break after it."""
    text = ROLE.sub("", text.lstrip(), count=1)
    for end in END_MARKERS:
        text = text.split(end, 1)[0]
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if kept := _answer_line(line, name):
            return kept, i < len(lines) - 1
    return "", False


def strip_chat_text(text: str, slot: str, name: str) -> str:
    """The words for ``slot`` (as in :func:`~smallcoder_lsp.docstring.layout.layout`) in an instruct model's
    answer ``text`` about the definition ``name``: one line, no chat text; empty where there are none."""
    line, _ = _answer(text, name)
    for end in SENTENCE_END.finditer(line):
        if EXPLANATION.match(line, end.end()):
            line = line[: end.start() + 1]
            break
    line = _lead_in(slot, name).sub("", line, count=1).strip()
    return line[:1].upper() + line[1:]


def answer_done(text: str, name: str) -> bool:
    """A line of answer has ended: lines of chat alone (a preamble, a fence, the name) do not end a part."""
    line, ended = _answer(text, name)
    return bool(line) and ended
