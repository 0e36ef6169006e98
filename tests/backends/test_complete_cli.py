"""``smallcoder-lsp complete`` answers the same sample with every installed local runtime.

mlx and torch run the embedded model's conversion (the ``converted`` fixture makes it first, so the command does
not pay for it). The model is named: ``auto``, the default, would self-test every installed rung first, and on
mlx or torch convert each (medium: 6.7 GB, minutes). The command waits for the whole answer: a slow runtime
(mlx's and torch's CPU builds decode at a few tokens per second) still gets its completion.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.backends.conftest import LOCAL, installed

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "inventory.py"


@pytest.mark.model
@pytest.mark.parametrize("name", list(LOCAL))
def test_complete_answers_with_every_installed_backend(name: str, request: pytest.FixtureRequest) -> None:
    if not installed(name):
        pytest.skip(f"backend {name} is not installed")
    if name != "llama_cpp":
        request.getfixturevalue("converted")
    cmd = [sys.executable, "-m", "smallcoder_lsp", "complete", str(SAMPLE), "--line", "36", "--stats",
           "--backend", name, "--model", "tiny", "--threads", "2"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip(), proc.stderr[-3000:]
    assert f"{name}: " in proc.stderr  # the stats name the runtime that answered
