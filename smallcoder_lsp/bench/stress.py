"""``smallcoder-lsp bench --stress``: a keystroke storm and (with ``--soak-minutes``) a long soak, through the real
server, reporting what a user would feel and what the process accumulates.

- Storm: keystrokes every few milliseconds over several open documents, with switches and cursor jumps, each
  one a didChange and an automatic inline request (the previous one cancelled), then a pause. Reported: the time
  from the last keystroke to a suggestion at the pause, beside the same pause in a quiet server; the worker's
  peak queue and peak of cancelled tasks still waiting; the server's RSS over the storm.
- Soak: the typing corpus retyped at a human pace across several documents, switching every few dozen keys and
  reopening documents as their sessions end. Sampled: RSS, threads, open file descriptors and saved KV bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smallcoder_lsp.bench.lsp_client import LspClient, ServerGone, server_command
from smallcoder_lsp.bench.replay import lsp_position, suggestion_of
from smallcoder_lsp.bench.trace import TYPING_FILES, load_sessions, next_keystroke

READY = "smallcoder/suggestionReady"
PAUSE_TIMEOUT_S = 30.0
TYPED = "\n    total = total + value"
"""What the storm types, over and over: new, valid lines in the function bodies."""


@dataclass(frozen=True)
class StressOptions:
    out: Path = Path("smallcoder-bench")
    keystrokes: int = 2000
    interval_ms: float = 5.0
    documents: int = 10
    soak_minutes: float = 0.0
    model: str | None = None
    threads: int | None = None
    command: tuple[str, ...] | None = None
    seed: int = 14


class WatchingClient(LspClient):
    """The bench's client, also keeping the server's "suggestion ready" notices (our editors ask again then)."""

    def __init__(self, command: list[str]) -> None:
        super().__init__(command)
        self.ready: list[tuple[float, dict[str, Any]]] = []

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("method") == READY:
            self.ready.append((time.perf_counter(), message.get("params") or {}))
        super()._dispatch(message)


def ignore_outcome(future: asyncio.Future[Any]) -> None:
    """Most storm requests are cancelled or superseded; their answers are not looked at."""
    if not future.cancelled():
        future.exception()


def process_figures(pid: int) -> dict[str, int]:
    """RSS, threads and open file descriptors of ``pid`` (Linux /proc; empty elsewhere)."""
    figures: dict[str, int] = {}
    proc = Path(f"/proc/{pid}")
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in (proc / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                figures["rss_bytes"] = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                figures["threads"] = int(line.split()[1])
        figures["fds"] = len(list((proc / "fd").iterdir()))
    return figures


def storm_document(k: int) -> str:
    """A small module that ends with a function header: the storm's last keystroke opens its body."""
    helpers = "".join(
        f"def step_{k}_{i}(value, scale={i}):\n    total = value * scale\n    return total + {k}\n\n\n"
        for i in range(8)
    )
    return f'"""Module {k} of the storm."""\n\nimport math\n\n\n{helpers}def total_{k}(values):'


class Storm:
    """The documents' texts as the editor holds them, and the keystrokes that change them."""

    def __init__(self, client: WatchingClient, documents: int, seed: int) -> None:
        self.client = client
        self.rng = random.Random(seed)
        self.uris = [f"file:///smallcoder-stress/storm_{k}.py" for k in range(documents)]
        self.texts = [storm_document(k) for k in range(documents)]
        self.cursors = [t.index("\n\n\n") for t in self.texts]  # typing stays off the last line: see pause_latency
        self.versions = [1] * documents
        self.open_request: tuple[int, asyncio.Future[Any]] | None = None

    def open_all(self) -> None:
        for uri, text in zip(self.uris, self.texts, strict=True):
            self.client.open(uri, text)

    def key(self, doc: int, text: str) -> tuple[int, asyncio.Future[Any]]:
        """Type ``text`` at the cursor of ``doc`` and ask for a suggestion there (the open request is cancelled)."""
        if self.open_request is not None and not self.open_request[1].done():
            self.client.cancel(self.open_request[0])
        body, at = self.texts[doc], self.cursors[doc]
        self.versions[doc] += 1
        self.client.change(self.uris[doc], self.versions[doc], *lsp_position(body, at), text)
        self.texts[doc], self.cursors[doc] = body[:at] + text + body[at:], at + len(text)
        self.open_request = self.client.inline(self.uris[doc], *lsp_position(self.texts[doc], self.cursors[doc]), False)
        self.open_request[1].add_done_callback(ignore_outcome)
        return self.open_request

    def jump(self, doc: int) -> None:
        """The cursor jumps to the end of a random line of ``doc``."""
        text = self.texts[doc]
        body_line_ends = [m.end() for m in re.finditer(r"(?m)^    .*$", text) if text[m.end() : m.end() + 1] == "\n"]
        self.cursors[doc] = self.rng.choice(body_line_ends)

    async def pause_latency(self, doc: int) -> tuple[float | None, str]:
        """The last keystroke opens the block of ``doc``'s last line, a function header the storm left alone;
        seconds until a suggestion shows, and the suggestion (or what went wrong)."""
        self.cursors[doc] = len(self.texts[doc])
        started = time.perf_counter()
        _, future = self.key(doc, "\n    ")
        line_prefix = "    "
        try:
            suggestion = suggestion_of(await asyncio.wait_for(future, PAUSE_TIMEOUT_S), line_prefix)
            if suggestion:
                return time.perf_counter() - started, suggestion
            version = self.versions[doc]
            deadline = time.perf_counter() + PAUSE_TIMEOUT_S
            while time.perf_counter() < deadline:  # our clients ask again when the server says it is ready
                if any(p.get("uri") == self.uris[doc] and p.get("version") == version for _, p in self.client.ready):
                    line, char = lsp_position(self.texts[doc], self.cursors[doc])
                    again = await self.client.inline(self.uris[doc], line, char, False)[1]
                    suggestion = suggestion_of(again, line_prefix)
                    return (time.perf_counter() - started if suggestion else None), suggestion or "(asked again: empty)"
                await asyncio.sleep(0.01)
        except (asyncio.TimeoutError, RuntimeError, ServerGone) as exc:
            return None, f"({type(exc).__name__}: {exc})"
        return None, f"(empty, and no ready notice within {PAUSE_TIMEOUT_S:g} s)"


async def run_storm(client: WatchingClient, options: StressOptions) -> dict[str, Any]:
    storm = Storm(client, options.documents, options.seed)
    storm.open_all()
    rss: list[int] = []
    doc, typed, due = 0, 0, time.perf_counter()
    for i in range(options.keystrokes):
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        due += options.interval_ms / 1000
        if storm.rng.random() < 0.1:  # a switch to another document: a new line there
            doc, typed = storm.rng.randrange(options.documents), 0
        if storm.rng.random() < 0.05:  # a jump to the end of another line of a function body: a new line there
            storm.jump(doc)
            typed = 0
        storm.key(doc, TYPED[typed % len(TYPED)])
        typed += 1
        if i % 100 == 0:
            rss.append(process_figures(client.pid).get("rss_bytes", 0))
        if client.gone_reason:
            raise ServerGone(client.gone_reason)
    typed_s = time.perf_counter() - (due - options.keystrokes * options.interval_ms / 1000)
    storm_latency, storm_text = await storm.pause_latency(0)
    after_storm: dict[str, Any] = await client.request("smallcoder/status")
    await asyncio.sleep(3.0)  # quiet: the decodes the storm left have finished
    calm_latency, calm_text = await storm.pause_latency(1)
    rss.append(process_figures(client.pid).get("rss_bytes", 0))
    worker = after_storm.get("worker", {})
    return {
        "keystrokes": options.keystrokes,
        "interval_ms": options.interval_ms,
        "documents": options.documents,
        "typed_s": typed_s,
        "pause_latency_s": storm_latency,
        "pause_suggestion": storm_text,
        "calm_pause_latency_s": calm_latency,
        "calm_suggestion": calm_text,
        "peak_queued": worker.get("peakQueued"),
        "peak_stale": worker.get("peakStale"),
        "dropped": worker.get("dropped"),
        "rss_start_bytes": rss[0],
        "rss_peak_bytes": max(rss),
        "rss_end_bytes": rss[-1],
    }


class Soak:
    """Typing sessions retyped across ``documents`` open documents, switching every ``switch_keys`` keys."""

    def __init__(self, client: LspClient, documents: int, switch_keys: int = 40) -> None:
        self.client = client
        self.sessions = load_sessions(10_000, TYPING_FILES)
        self.switch_keys = switch_keys
        self.next_session = 0
        self.rounds = 0
        self.slots: list[dict[str, Any]] = [self._start() for _ in range(documents)]
        self.keys = 0

    def _start(self) -> dict[str, Any]:
        session = self.sessions[self.next_session % len(self.sessions)]
        self.next_session += 1
        uri = f"file:///smallcoder-stress/soak/{self.next_session}-{session.name.replace(':', '-')}"
        self.client.open(uri, session.before + session.after)
        return {"uri": uri, "text": session.before + session.after, "pos": len(session.before), "body": session.body,
                "typed": 0, "version": 1}  # fmt: skip

    def key(self, slot_index: int) -> None:
        slot = self.slots[slot_index]
        if slot["typed"] >= len(slot["body"]):  # the session is done: close it, open the next one
            self.client.close_document(slot["uri"])
            slot = self.slots[slot_index] = self._start()
        insert = next_keystroke(slot["body"], slot["typed"])
        slot["version"] += 1
        self.client.change(slot["uri"], slot["version"], *lsp_position(slot["text"], slot["pos"]), insert)
        slot["text"] = slot["text"][: slot["pos"]] + insert + slot["text"][slot["pos"] :]
        slot["pos"] += len(insert)
        slot["typed"] += len(insert)
        self.client.inline(slot["uri"], *lsp_position(slot["text"], slot["pos"]), False)[1].add_done_callback(
            ignore_outcome
        )
        self.keys += 1


async def run_soak(client: LspClient, minutes: float, pace_s: float = 0.12, sample_s: float = 30.0) -> dict[str, Any]:
    soak = Soak(client, documents=4)
    started = time.perf_counter()
    samples: list[dict[str, Any]] = []
    next_sample, slot = started, 0
    while (elapsed := time.perf_counter() - started) < minutes * 60:
        if time.perf_counter() >= next_sample:
            status = await client.request("smallcoder/status")
            worker = status.get("worker", {})
            figures = process_figures(client.pid)
            samples.append(
                {"minute": elapsed / 60, **figures, "kv_saved_bytes": worker.get("kvSavedBytes"), "keys": soak.keys}
            )
            next_sample += sample_s
        if soak.keys % soak.switch_keys == 0:
            slot = (slot + 1) % len(soak.slots)
        soak.key(slot)
        if client.gone_reason:
            raise ServerGone(client.gone_reason)
        await asyncio.sleep(pace_s)
    return {"minutes": minutes, "keys": soak.keys, "sessions_typed": soak.next_session, "samples": samples}


def at_minute(samples: list[dict[str, Any]], minute: float) -> dict[str, Any] | None:
    """The last sample taken by ``minute``."""
    before = [s for s in samples if s["minute"] <= minute + 1e-6]
    return before[-1] if before else None


def summary(result: dict[str, Any]) -> str:
    storm = result["storm"]
    mb = 2**20
    lines = [
        "| figure | value |",
        "|---|---|",
        f"| storm | {storm['keystrokes']} keys every {storm['interval_ms']:g} ms over {storm['documents']} documents "
        f"({storm['typed_s']:.1f} s) |",
        f"| pause latency after the storm | {fmt_s(storm['pause_latency_s'])} |",
        f"| pause latency, quiet server | {fmt_s(storm['calm_pause_latency_s'])} |",
        f"| worker queue: peak waiting / peak cancelled still waiting / dropped | "
        f"{storm['peak_queued']} / {storm['peak_stale']} / {storm['dropped']} |",
        f"| RSS start / peak / end | {storm['rss_start_bytes'] / mb:.0f} / {storm['rss_peak_bytes'] / mb:.0f} / "
        f"{storm['rss_end_bytes'] / mb:.0f} MB |",
    ]
    soak = result.get("soak")
    if soak:
        for minute in sorted({m for m in (5, 15, 30) if m < soak["minutes"]} | {soak["minutes"]}):
            sample = at_minute(soak["samples"], minute)
            if sample is not None:
                kv = (sample["kv_saved_bytes"] or 0) / mb
                lines.append(
                    f"| soak at {minute:g} min | RSS {sample.get('rss_bytes', 0) / mb:.0f} MB, threads "
                    f"{sample.get('threads')}, fds {sample.get('fds')}, saved KV {kv:.0f} MB |"
                )
    return "\n".join(lines)


def fmt_s(seconds: float | None) -> str:
    return "no suggestion" if seconds is None else f"{1000 * seconds:.0f} ms"


async def stress(options: StressOptions) -> dict[str, Any]:
    command = list(options.command or server_command(options.model, None, options.threads))
    client = WatchingClient(command)
    try:
        await client.start()
        status = await client.initialize({})
        if status.get("state") != "ready":
            raise ServerGone(f"the server is not ready: {status.get('message') or status.get('state')}")
        result: dict[str, Any] = {"model": status.get("model"), "storm": await run_storm(client, options)}
        if options.soak_minutes > 0:
            result["soak"] = await run_soak(client, options.soak_minutes)
        result["server_alive"] = not client.gone_reason
        return result
    finally:
        await client.close()


def run_stress(options: StressOptions) -> int:
    """Run the storm (and the soak), write stress.json and stress.md under ``options.out``; 0 when it ran."""
    from smallcoder_lsp.bench.run import commit_id, machine_info

    started = time.perf_counter()
    try:
        result = asyncio.run(stress(options))
    except (ServerGone, OSError) as exc:
        print(f"stress: the server failed: {exc}")
        return 1
    result.update(machine=machine_info(), commit=commit_id(), wall_s=time.perf_counter() - started)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "stress.json").write_text(json.dumps(result, indent=2))
    table = summary(result)
    (options.out / "stress.md").write_text(f"# smallcoder-lsp stress\n\n{table}\n")
    print(table)
    print(f"wrote {options.out / 'stress.json'}, {options.out / 'stress.md'}")
    return 0
