"""Time to first token for one document, cold and then after one typed character (warm).

Drives the real server over stdio like an editor: open a real file cut at the start of a function body, ask
for an inline completion (cold: nothing cached), type one character, ask again (warm: the KV cache holds
everything but the last few tokens). Reads the server's own statistics from ``smallcoder/status``.

    python bench/first_token.py [FILE] [--positions N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import sysconfig
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient


def body_starts(text: str, limit: int) -> list[int]:
    """Line numbers just after a `def ...:` line whose body is indented code, spread through the file."""
    lines = text.split("\n")
    found = [i + 1 for i, line in enumerate(lines[:-1]) if line.lstrip().startswith("def ") and line.endswith(":")]
    step = max(1, len(found) // limit)
    return found[::step][:limit]


async def ask(client: LanguageClient, uri: str, line: int, character: int) -> tuple[float, dict]:
    started = time.perf_counter()
    await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
    )
    elapsed = time.perf_counter() - started
    status = await client.protocol.send_request_async("smallcoder/status", {})
    return elapsed, {**status.lastCompletion._asdict(), "source": getattr(status, "lastSource", "model")}


async def measure(path: Path, positions: int) -> None:
    source = path.read_text()
    lines = source.split("\n")
    client = LanguageClient("first-token-bench", "0")
    client.feature("smallcoder/statusChanged")(lambda *_: None)
    await client.start_io(sys.executable, "-m", "smallcoder_lsp", "serve", "--log-level", "warning")
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
    client.initialized(types.InitializedParams())
    while (await client.protocol.send_request_async("smallcoder/status", {})).state == "loading":
        await asyncio.sleep(0.1)
    rows = []
    for n, line_no in enumerate(body_starts(source, positions)):
        indent = lines[line_no][: len(lines[line_no]) - len(lines[line_no].lstrip())]
        text = "\n".join(lines[:line_no]) + "\n" + indent
        uri = f"file:///bench/doc{n}.py"
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
            )
        )
        cold_resp, cold = await ask(client, uri, line_no, len(indent))
        typed = lines[line_no].strip()[:1] or "r"
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(line=line_no, character=len(indent)),
                            end=types.Position(line=line_no, character=len(indent)),
                        ),
                        text=typed,
                    )
                ],
            )
        )
        warm_resp, warm = await ask(client, uri, line_no, len(indent) + 1)
        rows.append((cold, warm, cold_resp, warm_resp))
        cold_part = f"cold {1000 * cold['first_token_s']:7.1f} ms ({cold['evaluated_tokens']} tokens evaluated)"
        if warm["source"] == "typed":  # the typed character matched the suggestion: no model call at all
            print(f"line {line_no:5d}: {cold_part} | typed into the suggestion, answered in {1000 * warm_resp:.0f} ms")
            continue
        print(
            f"line {line_no:5d}: {cold_part} | warm {1000 * warm['first_token_s']:6.1f} ms "
            f"({warm['evaluated_tokens']} evaluated, {warm['reused_tokens']} reused)"
        )
    med = statistics.median
    model_rows = [r for r in rows if r[1]["source"] != "typed"]
    print(
        f"median first token: cold {1000 * med(r[0]['first_token_s'] for r in rows):.0f} ms, "
        f"warm (model) {1000 * med(r[1]['first_token_s'] for r in model_rows):.1f} ms over {len(model_rows)}; "
        f"median response: cold {1000 * med(r[2] for r in rows):.0f} ms, warm {1000 * med(r[3] for r in rows):.0f} ms"
    )
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", type=Path, default=Path(sysconfig.get_paths()["stdlib"]) / "textwrap.py")
    parser.add_argument("--positions", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(measure(args.file, args.positions))


if __name__ == "__main__":
    main()
