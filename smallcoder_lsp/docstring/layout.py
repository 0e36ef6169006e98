"""Docstring layouts (Google, NumPy, reST): the structure comes from the syntax tree, the words from the model.

A layout is a list of :class:`Line`. Lines with a ``slot`` end in text the model writes (the summary, one
description per parameter, the return value, each raised exception); the others are fixed. The same lines give
the prompt for each slot (everything before it) and the final, wrapped docstring.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass

from smallcoder_lsp.context.definitions import DefinitionInfo, Param

QUOTES = '"""'
STYLES = ("google", "numpy", "rest")
LEVEL = "    "


@dataclass(frozen=True)
class Line:
    head: str
    """Fixed text at the line's start (after the indentation)."""
    slot: str = ""
    """Key of the model-written text that ends the line; empty for a fixed line."""
    depth: int = 0
    """Indentation levels below the docstring's own."""
    hang: int = 0
    """Extra levels for the continuation lines when the line is wrapped."""


def _google_param(p: Param) -> str:
    return f"{p.name} ({p.annotation}): " if p.annotation else f"{p.name}: "


def _google(info: DefinitionInfo) -> list[Line]:
    returns_type = info.return_type
    lines: list[Line] = []
    if info.params:
        lines += [Line(""), Line("Args:")]
        lines += [Line(_google_param(p), f"param:{p.name}", 1, 1) for p in info.params]
    if info.returns:
        lines += [Line(""), Line("Returns:"), Line(f"{returns_type}: " if returns_type else "", "returns", 1, 1)]
    if info.raises:
        lines += [Line(""), Line("Raises:")]
        lines += [Line(f"{e}: ", f"raises:{e}", 1, 1) for e in info.raises]
    return lines


def _numpy(info: DefinitionInfo) -> list[Line]:
    returns_type = info.return_type
    lines: list[Line] = []
    if info.params:
        lines += [Line(""), Line("Parameters"), Line("----------")]
        for p in info.params:
            lines += [Line(f"{p.name} : {p.annotation}" if p.annotation else p.name), Line("", f"param:{p.name}", 1)]
    if info.returns:
        lines += [Line(""), Line("Returns"), Line("-------"), Line(returns_type or "object"), Line("", "returns", 1)]
    if info.raises:
        lines += [Line(""), Line("Raises"), Line("------")]
        for e in info.raises:
            lines += [Line(e), Line("", f"raises:{e}", 1)]
    return lines


def _rest(info: DefinitionInfo) -> list[Line]:
    returns_type = info.return_type
    lines: list[Line] = [Line("")] if info.params or info.returns or info.raises else []
    for p in info.params:
        lines.append(Line(f":param {p.name}: ", f"param:{p.name}", 0, 1))
        if p.annotation:
            lines.append(Line(f":type {p.name}: {p.annotation}"))
    if info.returns:
        lines.append(Line(":returns: ", "returns", 0, 1))
        if returns_type:
            lines.append(Line(f":rtype: {returns_type}"))
    lines += [Line(f":raises {e}: ", f"raises:{e}", 0, 1) for e in info.raises]
    return lines


def layout(info: DefinitionInfo, style: str) -> list[Line]:
    """The docstring's lines: the summary first; the closing quotes are added by :func:`render`."""
    sections = {"google": _google, "numpy": _numpy, "rest": _rest}[style](info)
    return [Line(QUOTES, "summary"), *sections]


def prompt_text(lines: list[Line], texts: Mapping[str, str], upto: str, indent: str) -> str:
    """The docstring written so far, unwrapped, ending where the text of slot ``upto`` begins."""
    out = []
    for line in lines:
        start = indent + LEVEL * line.depth + line.head
        if line.slot == upto:
            out.append(start)
            return "\n".join(out)
        out.append((start + texts.get(line.slot, "")).rstrip())
    raise KeyError(upto)


def render(lines: list[Line], texts: Mapping[str, str], indent: str, width: int) -> str:
    """The finished docstring literal, its first line unindented (it goes where the old one started)."""
    if len(lines) == 1:
        one = QUOTES + texts.get("summary", "") + QUOTES
        if _visual(indent) + len(one) <= width:
            return one
    out: list[str] = []
    for line in lines:
        body = line.head + texts.get(line.slot, "")
        first = LEVEL * line.depth
        rest = LEVEL * (line.depth + line.hang)
        room = max(width - _visual(indent), 20)
        wrapped = textwrap.wrap(body, room, initial_indent=first, subsequent_indent=rest, break_long_words=False)
        out += [indent + w for w in wrapped] or [""]
    out.append(indent + QUOTES)
    out[0] = out[0][len(indent) :]
    return "\n".join(out)


def _visual(indent: str) -> int:
    return len(indent.expandtabs(4))


SENTENCE_END = re.compile(r"(?<=[a-z0-9)\]`'\"])[.!?](\s|$)")


def clean(text: str, slot: str, fallback: str) -> str:
    """One line of model text made fit for a docstring: no quotes, no repeated name, one sentence for the
    summary, a capital letter and a full stop."""
    text = text.lstrip()
    for end in ('"""', "'''", "\n"):
        text = text.split(end, 1)[0]
    text = text.replace("\\", "").strip().strip("-*:#").strip()
    name = slot.split(":", 1)[1].lstrip("*") if ":" in slot else ""
    if name and re.match(rf"\**{re.escape(name)}\b\s*(\([^)]*\))?\s*:", text):
        text = text.split(":", 1)[1].strip()
    text = " ".join(text.split())
    if slot == "summary" and (m := SENTENCE_END.search(text)):
        text = text[: m.start() + 1]
    if not re.search(r"[A-Za-z]{2}", text):  # nothing, digits, or not the language of the code
        return fallback
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text.rstrip(",;") + "."


def fallback(slot: str, info: DefinitionInfo) -> str:
    kind, _, name = slot.partition(":")
    if kind == "param":
        return f"The {name.lstrip('*').replace('_', ' ')} argument."
    if kind == "returns":
        return "The result."
    if kind == "raises":
        return "If the input is invalid."
    return f"The {info.name} {info.kind}."
