"""Replay the bench's typing trace against llama-cpp-python's OpenAI-compatible server, for comparison.

    pip install 'llama-cpp-python[server]'
    python bench/peer_llama_server.py [--model PATH] [--pace-ms 120] [--pause-ms 1000] [--keys 2800] [--out ...]

The server runs on 127.0.0.1 with the same model (the embedded one by default). Each keystroke sends the text
before the cursor (the last 3000 characters, like smallcoder's prefix window) to ``/v1/completions`` with
streaming; a request still open when the next key is due is abandoned (its connection closed), as an editor
cancels. Keys come with the bench's pause model (pauses at line starts and after some boundary characters).
Times are measured by this client: time to the first streamed token and to the full answer.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from smallcoder_lsp.backends.llama_cpp import SERVER_LAUNCH
from smallcoder_lsp.bench.metrics import typing_summary
from smallcoder_lsp.bench.pauses import PauseModel
from smallcoder_lsp.bench.records import RequestRecord
from smallcoder_lsp.bench.replay import accepted_text
from smallcoder_lsp.bench.run import FULL_TYPING_KEYS
from smallcoder_lsp.bench.trace import TYPING_FILES, load_sessions, next_keystroke
from smallcoder_lsp.models.files import resolve_model_path

PREFIX_CHARS = 3000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(model: str, port: int, threads: int | None) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-c",
        SERVER_LAUNCH,  # as our backend loads the model (on a CPU with AMX, llama.cpp's AMX path crashes)
        "--model",
        model,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
    ]
    if threads:
        command += ["--n_threads", str(threads)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/v1/models")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("llama_cpp.server did not start (is 'llama-cpp-python[server]' installed?)")


class Request(threading.Thread):
    """One streamed completion; ``abandon`` closes its connection."""

    def __init__(self, port: int, prompt: str, record: RequestRecord, clock) -> None:
        super().__init__(daemon=True)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.prompt, self.record, self.clock = prompt, record, clock
        self.text = ""

    def run(self) -> None:
        body = {"prompt": self.prompt, "max_tokens": 48, "temperature": 0, "stream": True, "stop": ["\n\n"]}
        try:
            self.conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
            response = self.conn.getresponse()
            for line in response:
                if not line.startswith(b"data: ") or line.strip() == b"data: [DONE]":
                    continue
                piece = json.loads(line[6:])["choices"][0].get("text", "")
                if piece and self.record.stats is None:
                    self.record.stats = {"first_token_s": self.clock() - self.record.sent_s}
                self.text += piece
            self.record.suggestion = self.text.split("\n", 1)[0] if self.text else ""
            self.record.answered_s = self.clock()
        except (OSError, ValueError, http.client.HTTPException) as exc:
            self.record.error = str(exc) or type(exc).__name__

    def abandon(self) -> None:
        self.record.cancelled = True
        self.conn.close()


def replay(port: int, pauses: PauseModel, keys: int) -> tuple[list[RequestRecord], int]:
    sessions = load_sessions(keys, TYPING_FILES)
    started = time.perf_counter()
    clock = lambda: time.perf_counter() - started  # noqa: E731
    records: list[RequestRecord] = []
    for session in sessions:
        text, pos, body, typed, due = session.before + session.after, len(session.before), session.body, 0, clock()
        stops = pauses.pause_offsets(session.name, body)
        last: Request | None = None
        while typed < len(body):
            time.sleep(max(0.0, due - clock()))
            insert = ""
            if last is not None:
                last.record.next_due_s = clock()
                if last.record.answered_s is not None and last.record.suggestion:
                    insert = accepted_text(last.record.suggestion, body[typed:])
                    last.record.accepted_chars = len(insert)
            insert = insert or next_keystroke(body, typed)
            if last is not None and last.is_alive():
                last.abandon()
            text, pos, typed = text[:pos] + insert + text[pos:], pos + len(insert), typed + len(insert)
            delay, now = pauses.delay_after(typed, stops), clock()
            record = RequestRecord(
                session.name, len(records), now, now + delay, origin=session.origin,
                pause_s=delay if typed in stops else 0.0, expected=body[typed:].split("\n", 1)[0],
            )  # fmt: skip
            records.append(record)
            last = Request(port, text[max(0, pos - PREFIX_CHARS) : pos], record, clock)
            last.start()
            due += delay
        if last is not None:
            last.join(30)
    return records, sum(len(s.body) for s in sessions)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="", help="GGUF file (default: the embedded model)")
    parser.add_argument("--pace-ms", type=float, default=120.0)
    parser.add_argument("--pause-ms", type=float, default=1000.0)
    parser.add_argument(
        "--keys", type=int, default=FULL_TYPING_KEYS, help="about this many keystrokes (default: the bench's)"
    )
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out", type=Path, default=Path("bench/results/peer_llama_server.json"))
    args = parser.parse_args()
    model = str(resolve_model_path(args.model))
    port = free_port()
    server = start_server(model, port, args.threads)
    try:
        records, chars = replay(port, PauseModel(key_s=args.pace_ms / 1000, pause_s=args.pause_ms / 1000), args.keys)
    finally:
        server.terminate()
        server.wait(10)
    summary = typing_summary(records, chars)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "peer": "llama_cpp.server",
                "model": model,
                "pace_ms": args.pace_ms,
                "pause_ms": args.pause_ms,
                "summary": summary,
            },
            indent=1,
        )
        + "\n"
    )
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
