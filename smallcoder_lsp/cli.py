"""The ``smallcoder-lsp`` command: ``serve``, ``complete``, ``bench``, ``doctor``, ``convert``."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smallcoder_lsp import __version__
from smallcoder_lsp.config import Config
from smallcoder_lsp.errors import SmallcoderError
from smallcoder_lsp.log import setup_logging

if TYPE_CHECKING:
    from smallcoder_lsp.completion.result import Completion
    from smallcoder_lsp.context.documents import Document

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_EMPTY = 0, 1, 2, 3
COMPLETE_EXIT_CODES = """exit status:
  0  a completion was printed
  3  no completion: stdout is empty and stderr says why (nothing is expected at the cursor, the model
     proposed nothing, a limit was reached, or postprocessing trimmed it away)
  1  the model could not load or failed
  2  bad arguments, an unreadable file, or a line outside it"""

LANGUAGE_BY_SUFFIX = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".ts": "typescript", ".go": "go",
    ".rs": "rust", ".java": "java", ".c": "c", ".h": "c", ".cpp": "cpp", ".cc": "cpp", ".hpp": "cpp",
}  # fmt: skip


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", help="tiny, small, medium, a GGUF file, or auto: the best rung that is fast enough here (default)"
    )
    p.add_argument("--backend", help="inference runtime (default: auto)")
    p.add_argument("--threads", type=int, help="CPU threads (default: the cores other programs leave free)")
    p.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-file", type=Path, help="write logs here instead of stderr")


def json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('a JSON object is needed, like \'{"completion": {"holdMs": 800}}\'')
    return value


def _complete_options(complete: argparse.ArgumentParser) -> None:
    complete.add_argument("file", type=Path)
    complete.add_argument("--line", type=int, required=True, help="1-based line")
    complete.add_argument("--col", type=int, help="1-based column in characters (default: end of line)")
    complete.add_argument("--language", help="language id (default: from the file name)")
    complete.add_argument(
        "--timeout-ms",
        type=int,
        default=0,
        help="stop generating this long after the first token (default: 0, no limit)",
    )
    complete.add_argument(
        "--whole-line", action="store_true", help="print the line up to the cursor before the completion"
    )
    complete.add_argument(
        "--stats", action="store_true", help="print the backend, timing, token counts and why it stopped to stderr"
    )
    _model_options(complete)


def _typing_options(bench: argparse.ArgumentParser) -> None:
    bench.add_argument("--pace-ms", type=float, default=120.0, help="time between keystrokes (default: 120)")
    bench.add_argument("--pause-ms", type=float, default=1000.0, help="length of a typing pause (default: 1000)")
    bench.add_argument(
        "--reach-ms",
        type=float,
        default=1000.0,
        help="how long the cursor rests where a typing session starts before its first key; the client says where "
        "it rests after 300 ms, as our editor clients do (default: 1000; 0: the first key comes with the opening)",
    )
    bench.add_argument(
        "--open-others",
        action="store_true",
        help="the typing replay keeps the other files of each session's project open beside it",
    )


def _line_cut_options(bench: argparse.ArgumentParser) -> None:
    bench.add_argument("--cuts", type=int, help="how many line cuts (default: 400, 8 with --quick)")
    bench.add_argument(
        "--cut-stride",
        type=int,
        default=1,
        metavar="N",
        help="ask every N-th of the --cuts line cuts only: the same cuts' subset, for a slow model (default: 1)",
    )
    bench.add_argument("--invoked", action="store_true", help="line cuts ask with invoked, not automatic, requests")


def _bench_options(bench: argparse.ArgumentParser) -> None:
    bench.add_argument("--quick", action="store_true", help="a subset that runs in about a minute (for CI)")
    bench.add_argument(
        "--out", type=Path, default=Path("smallcoder-bench"), help="report folder (default: %(default)s)"
    )
    bench.add_argument(
        "--stages", default="corpus,typing,lines", help="comma-separated stages to run (default: %(default)s)"
    )
    _typing_options(bench)
    _line_cut_options(bench)
    bench.add_argument(
        "--baseline",
        choices=["naive", "none"],
        help="naive: also type and cut lines with no KV reuse (default: naive, none with --quick)",
    )
    bench.add_argument("--backends", default="auto", help="comma-separated backends to compare (default: auto)")
    bench.add_argument(
        "--model",
        help="the model: tiny, small, medium or a GGUF file; several, comma-separated, run side by side in one run",
    )
    bench.add_argument("--threads", type=int, help="CPU threads for the server (default: the free cores)")
    bench.add_argument(
        "--server-command",
        help="run this server command line instead of 'smallcoder-lsp serve' (e.g. an older build, to set a bar)",
    )
    bench.add_argument(
        "--settings",
        type=json_object,
        default={},
        metavar="JSON",
        help='server settings for every stage, as an editor sends them (e.g. \'{"completion": {"holdMs": 800}}\')',
    )
    bench.add_argument(
        "--busy",
        type=int,
        default=0,
        metavar="N",
        help="N other programs each keep a core busy while the stages run, as a build would (default: 0)",
    )
    bench.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    bench.add_argument(
        "--stress", action="store_true", help="instead: a keystroke storm (and --soak-minutes of typing); see stress.md"
    )
    bench.add_argument("--soak-minutes", type=float, default=0.0, help="with --stress: soak this long (default: none)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smallcoder-lsp", description="Local AI code completion over LSP.")
    parser.add_argument("--version", action="version", version=f"smallcoder-lsp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default)")
    serve.add_argument("--tcp", action="store_true", help="listen on TCP instead of stdio")
    serve.add_argument("--host", default="127.0.0.1", help="TCP address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=2087, help="TCP port (default: 2087)")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="let --host be an address other machines can reach (the server has no authentication)",
    )
    _model_options(serve)

    _complete_options(
        sub.add_parser(
            "complete",
            help="complete once at a position in a file and print the completion",
            description="Complete once at a position in FILE, as an invoked request that waits for the model's\n"
            "answer, and print the text to insert at the cursor to stdout (nothing when there is none;\n"
            "stderr then says why).",
            epilog=COMPLETE_EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )

    _bench_options(sub.add_parser("bench", help="replay the corpus, typing and line cuts through the server"))

    doctor = sub.add_parser(
        "doctor", help="print the hardware profile, each backend's measured decode rate, and which one would run"
    )
    doctor.add_argument(
        "--no-self-test",
        action="store_true",
        help="do not run the self-tests (about 2 s per backend after loading); show the remembered rates",
    )
    _model_options(doctor)

    convert = sub.add_parser("convert", help="turn a GGUF model into a Hugging Face folder for mlx and torch")
    convert.add_argument(
        "gguf", nargs="?", default="", help="a rung (tiny, small, medium) or a GGUF file (default: tiny)"
    )
    convert.add_argument("--out", type=Path, help="output folder (default: the user cache)")
    convert.add_argument("--force", action="store_true", help="convert again even if a conversion exists")
    convert.add_argument("--mlx-quantize", type=int, metavar="BITS", help="also write an MLX-quantized copy")
    convert.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"])
    convert.add_argument("--log-file", type=Path, help="write logs here instead of stderr")
    return parser


def cmd_bench(args: argparse.Namespace) -> int:
    if args.stress:
        from smallcoder_lsp.bench.stress import StressOptions, run_stress

        stress = StressOptions(out=args.out, soak_minutes=args.soak_minutes, model=args.model, threads=args.threads)
        return run_stress(stress)
    from smallcoder_lsp.bench.run import STAGES, BenchOptions, run_bench

    baseline = args.baseline or ("none" if args.quick else "naive")
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip()) or ("auto",)
    models = tuple(m.strip() for m in (args.model or "").split(",") if m.strip()) or ("",)
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        print(f"smallcoder-lsp bench: unknown stage(s) {unknown} (choose from {', '.join(STAGES)})", file=sys.stderr)
        return 2
    options = BenchOptions(
        quick=args.quick,
        out=args.out,
        pace_ms=args.pace_ms,
        pause_ms=args.pause_ms,
        reach_ms=args.reach_ms,
        baseline="" if baseline == "none" else baseline,
        backends=backends,
        model=models[0] or None if len(models) == 1 else None,
        models=models if len(models) > 1 else (),
        threads=args.threads,
        plots=not args.no_plots,
        server_command=tuple(shlex.split(args.server_command)) if args.server_command else None,
        stages=stages,
        cuts=args.cuts,
        cut_stride=args.cut_stride,
        invoked=args.invoked,
        settings=args.settings,
        busy=max(0, args.busy),
        open_others=args.open_others,
    )
    return run_bench(options)


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {"model": args.model, "backend": args.backend, "threads": args.threads, "log_level": args.log_level}
    return {k: v for k, v in pairs.items() if v is not None}


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    from smallcoder_lsp.server.app import create_server
    from smallcoder_lsp.server.transport import serve_stdio, serve_tcp

    if args.tcp and not is_loopback(args.host):
        if not args.allow_remote:
            print(
                f"smallcoder-lsp: refusing to listen on {args.host}: other machines could reach the server, which "
                "has no authentication and reads the code it is sent. Use 127.0.0.1, or add --allow-remote.",
                file=sys.stderr,
            )
            return 2
        log.warning(
            "listening on %s, which other machines can reach (--allow-remote): there is no authentication", args.host
        )
    overrides = overrides_from(args)
    server = create_server(Config(**overrides), overrides)
    if args.tcp:
        log.info("smallcoder-lsp %s on %s:%d", __version__, args.host, args.port)
        serve_tcp(server, args.host, args.port)
    else:
        # JSON-RPC gets a private copy of stdout; fd 1 itself now points at stderr, so no stray print or
        # native library output can corrupt the protocol stream.
        rpc_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        sys.stdout = sys.stderr
        serve_stdio(server, sys.stdin.buffer, rpc_out)
    server.engine.shutdown()
    # LSP: exit code 0 only if `shutdown` came before `exit`.
    return 0 if getattr(server.protocol, "_shutdown", False) else 1


def cmd_complete(args: argparse.Namespace) -> int:
    from smallcoder_lsp.completion.engine import Engine
    from smallcoder_lsp.context.documents import DocumentStore

    path: Path = args.file
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"smallcoder-lsp: cannot read {path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    documents = DocumentStore()
    uri = path.resolve().as_uri()
    doc = documents.open(uri, args.language or LANGUAGE_BY_SUFFIX.get(path.suffix, "plaintext"), 0, text)
    if not 1 <= args.line <= doc.line_count:
        print(f"smallcoder-lsp: line {args.line} is outside {path} (1..{doc.line_count})", file=sys.stderr)
        return EXIT_USAGE
    line_prefix, offset = cursor(doc, args.line - 1, args.col)
    engine = Engine(complete_config(args), documents)
    try:
        status = engine.start().result()
        if status.state != "ready":
            print(f"smallcoder-lsp: {status.message}", file=sys.stderr)
            return EXIT_ERROR
        completion = asyncio.run(engine.complete(uri, offset, invoked=True))
    except SmallcoderError as exc:
        print(f"smallcoder-lsp: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        engine.shutdown(wait=True)
    print(f"smallcoder-lsp: {status.message}", file=sys.stderr)  # which model ran, and why auto chose it
    for note in completion_notes(completion, status.backend, args.stats):
        print(f"smallcoder-lsp: {note}", file=sys.stderr)
    if not completion.text:
        return EXIT_EMPTY
    shown = (line_prefix if args.whole_line else "") + completion.text
    sys.stdout.write(shown if shown.endswith("\n") else shown + "\n")
    return EXIT_OK


def complete_config(args: argparse.Namespace) -> Config:
    """The settings of a one-shot ``complete``: generation has no time limit unless ``--timeout-ms`` sets one, and
    nothing is prefetched (no keystroke follows)."""
    config = Config(**overrides_from(args))
    return replace(config, completion=replace(config.completion, timeout_ms=max(args.timeout_ms, 0), prefetch=False))


def cursor(doc: Document, line: int, col: int | None) -> tuple[str, int]:
    """The text of 0-based ``line`` before the 1-based column ``col`` (None: the line end), and its byte offset."""
    line_text = doc.line_text(line).decode("utf-8")
    before = line_text if col is None else line_text[: min(max(col - 1, 0), len(line_text))]
    return before, doc.line_start(line) + len(before.encode("utf-8"))


STOP_LIMITS = {
    "max_lines": "completion.maxLines",
    "deadline": "completion.timeoutMs (--timeout-ms)",
    "context": "contextLength",
}
"""Stop reasons that are limits, and the setting that sets each (max_tokens depends on the kind of completion)."""


def stop_words(stop: str, multiline: bool) -> str:
    if stop == "max_tokens":
        return f"{stop} (the completion.{'multilineMaxTokens' if multiline else 'maxTokens'} limit)"
    return f"{stop} (the {STOP_LIMITS[stop]} limit)" if stop in STOP_LIMITS else stop


def completion_notes(completion: Completion, backend: str, stats: bool) -> list[str]:
    """What ``complete`` tells on stderr: the statistics when asked, and why an empty answer is empty."""
    notes = []
    s = completion.stats
    if stats and s is not None:
        notes.append(
            f"{backend}: {s.prompt_tokens} prompt tokens ({s.reused_tokens} reused), first token "
            f"{1000 * (s.first_token_s or 0):.0f} ms, {s.generated_tokens} generated at {s.decode_tok_s:.0f} tok/s, "
            f"stop: {stop_words(s.stop_reason, completion.multiline)}"
        )
    elif stats:
        notes.append(f"{backend}: the model was not asked ({completion.source})")
    if not completion.text:
        notes.append(f"nothing to insert: {completion.reason or 'the model proposed nothing'}")
    return notes


def cmd_doctor(args: argparse.Namespace) -> int:
    from smallcoder_lsp.models import auto, hardware
    from smallcoder_lsp.models.doctor import backend_choice, report, self_tests

    config, profile = Config(**overrides_from(args)), hardware.detect()
    if not args.no_self_test:
        print(
            "smallcoder-lsp: self-testing each installed backend, then each installed model on the chosen one (load "
            "it, prefill, then decode for about 2 s; mlx and torch convert the model first if needed); "
            "--no-self-test skips this",
            file=sys.stderr,
        )
    run = not args.no_self_test
    tests = self_tests(config, profile, run=run)
    backend = backend_choice(config, profile, tests)[0]
    rungs = auto.rung_self_tests(config, backend, profile, run=run, again=run) if backend != "remote" else {}
    print(report(config, profile, tests, rungs))
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from smallcoder_lsp.models.convert import convert, quantize_for_mlx

    try:
        folder = convert(args.gguf, args.out, force=args.force)
        print(f"converted model: {folder}")
        if args.mlx_quantize:
            print(f"mlx {args.mlx_quantize}-bit copy: {quantize_for_mlx(folder, args.mlx_quantize)}")
    except SmallcoderError as exc:
        print(f"smallcoder-lsp: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(
        getattr(args, "log_level", None) or ("info" if args.command == "serve" else "warning"),
        getattr(args, "log_file", None),
    )
    if args.command == "serve":
        code = cmd_serve(args)
        logging.shutdown()
        # Leave at once: a blocked stdin reader thread must not keep the process alive after `exit`.
        os._exit(code)
    commands = {"complete": cmd_complete, "bench": cmd_bench, "doctor": cmd_doctor, "convert": cmd_convert}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
