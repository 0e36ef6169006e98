"""The ``smallcoder-lsp`` command: ``serve``, ``complete``, ``bench``, ``doctor``, ``convert``."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys
from pathlib import Path
from typing import Any

from smallcoder_lsp import __version__
from smallcoder_lsp.config import Config
from smallcoder_lsp.errors import SmallcoderError
from smallcoder_lsp.log import setup_logging

log = logging.getLogger(__name__)

LANGUAGE_BY_SUFFIX = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".ts": "typescript", ".go": "go",
    ".rs": "rust", ".java": "java", ".c": "c", ".h": "c", ".cpp": "cpp", ".cc": "cpp", ".hpp": "cpp",
}  # fmt: skip


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="GGUF model file (default: the embedded Gemma 3 270M)")
    p.add_argument("--backend", help="inference runtime (default: auto)")
    p.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    p.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-file", type=Path, help="write logs here instead of stderr")


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

    complete = sub.add_parser("complete", help="complete once at a position in a file and print the result")
    complete.add_argument("file", type=Path)
    complete.add_argument("--line", type=int, required=True, help="1-based line")
    complete.add_argument("--col", type=int, help="1-based column in characters (default: end of line)")
    complete.add_argument("--language", help="language id (default: from the file name)")
    complete.add_argument("--stats", action="store_true", help="print timing and token counts to stderr")
    _model_options(complete)

    bench = sub.add_parser("bench", help="replay the coding corpus and real typing through the server; check targets")
    bench.add_argument("--quick", action="store_true", help="a subset that runs in about a minute (for CI)")
    bench.add_argument(
        "--out", type=Path, default=Path("smallcoder-bench"), help="report folder (default: %(default)s)"
    )
    bench.add_argument("--pace-ms", type=float, default=120.0, help="time between keystrokes (default: 120)")
    bench.add_argument(
        "--baseline",
        choices=["naive", "none"],
        help="naive: also type with no KV reuse (default: naive, none with --quick)",
    )
    bench.add_argument("--backends", default="auto", help="comma-separated backends to compare (default: auto)")
    bench.add_argument("--model", help="GGUF model file (default: the embedded Gemma 3 270M)")
    bench.add_argument("--threads", type=int, help="CPU threads for the server (default: all cores)")
    bench.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    bench.add_argument(
        "--stress", action="store_true", help="instead: a keystroke storm (and --soak-minutes of typing); see stress.md"
    )
    bench.add_argument("--soak-minutes", type=float, default=0.0, help="with --stress: soak this long (default: none)")

    doctor = sub.add_parser("doctor", help="print the hardware profile, the backends and which one would run")
    _model_options(doctor)

    convert = sub.add_parser("convert", help="turn a GGUF model into a Hugging Face folder for mlx and torch")
    convert.add_argument("gguf", nargs="?", default="", help="GGUF file (default: the embedded model)")
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
    from smallcoder_lsp.bench.run import BenchOptions, run_bench

    baseline = args.baseline or ("none" if args.quick else "naive")
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip()) or ("auto",)
    options = BenchOptions(
        quick=args.quick,
        out=args.out,
        pace_ms=args.pace_ms,
        baseline="" if baseline == "none" else baseline,
        backends=backends,
        model=args.model,
        threads=args.threads,
        plots=not args.no_plots,
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

    path: Path = args.file
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"smallcoder-lsp: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    engine = Engine(Config(**overrides_from(args)))
    language = args.language or LANGUAGE_BY_SUFFIX.get(path.suffix, "plaintext")
    uri = path.resolve().as_uri()
    doc = engine.documents.open(uri, language, 0, text)
    if not 1 <= args.line <= doc.line_count:
        print(f"smallcoder-lsp: line {args.line} is outside {path} (1..{doc.line_count})", file=sys.stderr)
        return 2
    line_text = doc.line_text(args.line - 1).decode("utf-8")
    col = len(line_text) if args.col is None else min(max(args.col - 1, 0), len(line_text))
    offset = doc.line_start(args.line - 1) + len(line_text[:col].encode("utf-8"))
    status = engine.start().result()
    if status.state != "ready":
        print(f"smallcoder-lsp: {status.message}", file=sys.stderr)
        return 1
    try:
        completion = asyncio.run(engine.complete(uri, offset, invoked=True))
    except SmallcoderError as exc:
        print(f"smallcoder-lsp: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.shutdown()
    if args.stats and completion.stats is not None:
        s = completion.stats
        print(
            f"[{s.prompt_tokens} prompt tokens, first token {1000 * (s.first_token_s or 0):.0f} ms, "
            f"{s.generated_tokens} generated at {s.decode_tok_s:.0f} tok/s, stop: {s.stop_reason}]",
            file=sys.stderr,
        )
    sys.stdout.write(line_text[:col] + completion.text + "\n")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from smallcoder_lsp.models.doctor import report

    print(report(Config(**overrides_from(args))))
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
