"""The typing replay: retype function bodies through the real server, at a typing pace with pauses.

A session opens its document and, as our editor clients do when the cursor comes to rest, tells the server where
the cursor is (``smallcoder/warm``); the first key comes ``PauseModel.reach_s`` after the opening.
Per key: ``didChange``, then an automatic inline-completion request; the previous request is cancelled with
``$/cancelRequest`` if it is still open. Keys come ``PauseModel.key_s`` apart, except at pauses (line starts, and
now and then after a boundary character), where the user stops for ``PauseModel.pause_s`` and the request sent
with the last key may bring ghost text. A simulated user accepts a suggestion whose first line is exactly the
rest of the true line; the accepted text then goes in as one edit, in place of the next keystroke.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smallcoder_lsp.bench.lsp_client import LspClient, ServerGone
from smallcoder_lsp.bench.pauses import PauseModel
from smallcoder_lsp.bench.records import RequestRecord
from smallcoder_lsp.bench.trace import TypingSession, next_keystroke

LAST_ANSWER_TIMEOUT = 15.0
WARM_NOTIFICATION = "smallcoder/warm"


def accepted_text(suggestion: str, remaining: str) -> str:
    """What the simulated user accepts: the whole suggestion if the true text goes on with it, else its first
    line if that is the rest of the true line, else nothing."""
    first = suggestion.split("\n", 1)[0]
    if not first or first != remaining.split("\n", 1)[0]:
        return ""
    return suggestion if remaining.startswith(suggestion) else first


def lsp_position(text: str, offset: int) -> tuple[int, int]:
    """(line, UTF-16 character) of a character offset."""
    line = text.count("\n", 0, offset)
    prefix = text[text.rfind("\n", 0, offset) + 1 : offset]
    return line, len(prefix.encode("utf-16-le", "surrogatepass")) // 2


def suggestion_of(result: Any, line_prefix: str) -> str:
    """The text an inline-completion answer shows after the cursor (its items replace the line's start)."""
    items = result.get("items", []) if isinstance(result, dict) else (result or [])
    if not items:
        return ""
    insert = items[0].get("insertText", "")
    if isinstance(insert, dict):
        insert = insert.get("value", "")
    return insert[len(line_prefix) :] if insert.startswith(line_prefix) else ""


@dataclass
class StatsTracker:
    """Pairs each answer with the server's stats of its last completion, and drops repeats (a cancelled
    request leaves the previous stats in place)."""

    last: dict[str, Any] | None = None

    async def fetch(self, client: LspClient) -> tuple[dict[str, Any] | None, str]:
        """The new ``lastCompletion`` (None if it did not change) and ``lastSource``."""
        status = await client.request("smallcoder/status")
        if not isinstance(status, dict):
            return None, ""
        stats, source = status.get("lastCompletion"), str(status.get("lastSource", ""))
        if stats is None or stats == self.last:
            return None, source
        self.last = stats
        return dict(stats), source


class Typist:
    def __init__(self, client: LspClient, pauses: PauseModel, clock: Callable[[], float]) -> None:
        self.client = client
        self.pauses = pauses
        self.clock = clock
        self.tracker = StatsTracker()
        self.records: list[RequestRecord] = []
        self.answers: list[asyncio.Task[None]] = []

    async def _answer(self, record: RequestRecord, future: asyncio.Future[Any]) -> None:
        try:
            result = await future
        except ServerGone as exc:
            record.error = str(exc)
            return
        except RuntimeError as exc:  # the server's answer to a cancelled request
            record.error = str(exc)
            return
        record.answered_s = self.clock()
        line_prefix = record.document[record.document.rfind("\n", 0, record.cursor) + 1 : record.cursor]
        record.suggestion = suggestion_of(result, line_prefix)
        with contextlib.suppress(ServerGone, RuntimeError):
            record.stats, record.source = await self.tracker.fetch(self.client)

    async def type_session(self, session: TypingSession, uri: str, on_key: Callable[[], None]) -> None:
        text, pos, body, typed = session.before + session.after, len(session.before), session.body, 0
        pauses = self.pauses.pause_offsets(session.name, body)
        self.client.open(uri, text)
        await self.reach(uri, text, pos)
        version, due = 1, self.clock()
        open_request: tuple[int, asyncio.Task[None]] | None = None
        last: RequestRecord | None = None
        while typed < len(body):
            await asyncio.sleep(max(0.0, due - self.clock()))
            insert = ""
            if last is not None:
                last.next_due_s = self.clock()  # the next key is now: whatever came after it was not seen
                if last.answered_s is not None and not last.cancelled and last.suggestion:
                    insert = accepted_text(last.suggestion, body[typed:])
                    last.accepted_chars = len(insert)
            insert = insert or next_keystroke(body, typed)
            if open_request is not None and not open_request[1].done():
                self.client.cancel(open_request[0])
                if last is not None:
                    last.cancelled = True
            line, char = lsp_position(text, pos)
            version += 1
            self.client.change(uri, version, line, char, insert)
            text, pos, typed = text[:pos] + insert + text[pos:], pos + len(insert), typed + len(insert)
            delay = self.pauses.delay_after(typed, pauses)
            now = self.clock()
            last = RequestRecord(
                session.name, len(self.records), now, now + delay, document=text, cursor=pos, origin=session.origin,
                pause_s=delay if typed in pauses else 0.0, expected=body[typed:].split("\n", 1)[0],
            )  # fmt: skip
            self.records.append(last)
            request_id, future = self.client.inline(uri, *lsp_position(text, pos), invoked=False)
            open_request = (request_id, asyncio.create_task(self._answer(last, future)))
            self.answers.append(open_request[1])
            on_key()
            if self.client.gone_reason:
                raise ServerGone(self.client.gone_reason)
            due += delay
        if open_request is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(open_request[1]), LAST_ANSWER_TIMEOUT)
        self.client.close_document(uri)

    async def reach(self, uri: str, text: str, pos: int) -> None:
        """The user goes to where the session starts and stays there until the first key; once the cursor has
        rested ``rest_s``, the client says where it is."""
        rest, reach = self.pauses.rest_s, self.pauses.reach_s
        if reach <= rest:
            await asyncio.sleep(reach)
            return
        await asyncio.sleep(rest)
        line, character = lsp_position(text, pos)
        position = {"line": line, "character": character}
        self.client.notify(WARM_NOTIFICATION, {"textDocument": {"uri": uri}, "position": position})
        await asyncio.sleep(reach - rest)

    async def settle(self, timeout: float = LAST_ANSWER_TIMEOUT) -> None:
        """Wait for the answers still open (cancelled requests are answered too)."""
        if self.answers:
            await asyncio.wait(self.answers, timeout=timeout)
