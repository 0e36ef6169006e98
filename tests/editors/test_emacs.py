"""Emacs eglot (Debian's emacs-nox + elpa-eglot) in --batch with the real server and model."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

DRIVE = Path(__file__).parent / "emacs" / "drive.el"
SOURCE = 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n    '


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); its state in /proc says whether it is really running.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def test_completion_at_point_inserts_the_completion_and_shutdown_leaves_no_process(
    tmp_path: Path, require_program: Callable[[str, str], str], server_command: list[str]
) -> None:
    emacs = require_program("emacs", "apt-get install -y emacs-nox elpa-eglot")
    source = tmp_path / "fib.py"
    source.write_text(SOURCE)
    out = tmp_path / "out.json"
    env = {
        **os.environ,
        "SMALLCODER_CMD": json.dumps(server_command),
        "SMALLCODER_FILE": str(source),
        "SMALLCODER_OUT": str(out),
    }
    proc = subprocess.run([emacs, "--batch", "-l", str(DRIVE)], env=env, capture_output=True, text=True, timeout=300)
    assert out.exists(), proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert "error" not in result, (result["error"], proc.stderr[-3000:])
    assert result["state"] == "ready" and result["backend"] == "llama_cpp"

    text = result["text"]
    assert text.startswith(SOURCE) and len(text) > len(SOURCE), (text, result.get("log"))
    inserted = text[len(SOURCE) :]
    assert "\n" in inserted, "expected a multi-line completion on an empty line in a function body"
    assert all(line.startswith("    ") for line in inserted.split("\n")[1:] if line), text
    assert ast.parse(text)

    assert result["alive_after_shutdown"] is None  # eglot's shutdown ended the server
    deadline = time.monotonic() + 10
    while process_exists(result["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_exists(result["pid"])
