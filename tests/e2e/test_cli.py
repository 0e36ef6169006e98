"""``smallcoder-lsp complete`` as a person runs it: the completion on stdout, or nothing and the reason on stderr,
and an exit status that tells an empty answer from an error; ``doctor`` with each backend's measured rate."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from smallcoder_lsp.cli import EXIT_EMPTY, EXIT_ERROR, EXIT_OK, EXIT_USAGE
from smallcoder_lsp.models.hardware import importable

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "inventory.py"


def complete(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "smallcoder_lsp", "complete", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.model
def test_completes_the_sample_and_prints_the_completion_alone():
    # The README's first command: the empty body of `total_quantity`, with the rung `auto` picks here.
    proc = complete(str(SAMPLE), "--line", "36", "--stats", "--backend", "llama_cpp")
    assert proc.returncode == EXIT_OK, proc.stderr
    assert proc.stdout == "return sum(item.quantity for item in self.items.values())\n"  # after the indentation
    assert "llama_cpp: " in proc.stderr and "prompt tokens" in proc.stderr
    assert re.search(r"ready on llama_cpp .*; model = auto: (tiny|small|medium): ", proc.stderr), proc.stderr
    whole = complete(str(SAMPLE), "--line", "36", "--whole-line", "--backend", "llama_cpp")
    assert whole.returncode == EXIT_OK and whole.stdout == "        " + proc.stdout  # greedy: the same answer


@pytest.mark.model
def test_no_completion_prints_nothing_and_says_why():
    proc = complete(str(SAMPLE), "--line", "35", "--col", "11", "--backend", "llama_cpp")  # in `total_quantity`
    assert proc.returncode == EXIT_EMPTY
    assert proc.stdout == ""
    assert "nothing to insert: no completion expected: the cursor is inside an identifier" in proc.stderr


def test_errors_have_their_own_exit_status(tmp_path: Path):
    missing = complete(str(tmp_path / "missing.py"), "--line", "1")
    assert missing.returncode == EXIT_USAGE and "cannot read" in missing.stderr and missing.stdout == ""
    outside = complete(str(SAMPLE), "--line", "99")
    assert outside.returncode == EXIT_USAGE and "outside" in outside.stderr
    no_model = complete(str(SAMPLE), "--line", "36", "--model", str(tmp_path / "nope.gguf"), "--backend", "llama_cpp")
    assert no_model.returncode == EXIT_ERROR and "model file not found" in no_model.stderr and no_model.stdout == ""


@pytest.mark.model
def test_doctor_measures_each_installed_backend():
    proc = subprocess.run([sys.executable, "-m", "smallcoder_lsp", "doctor"], capture_output=True, text=True,
                          timeout=900, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = {
        line.split()[0]: line for line in proc.stdout.splitlines() if line.startswith("  ") and "available" in line
    }
    for name, modules in {"llama_cpp": ("llama_cpp",), "mlx": ("mlx", "mlx_lm"), "torch": ("torch",)}.items():
        if all(importable(m) for m in modules):
            assert re.search(r"available: [\d.]+ tok/s", lines[name]), lines[name]
    assert "choice: " in proc.stdout
    assert re.search(r"^model: auto picks (tiny|small|medium)", proc.stdout, re.MULTILINE), proc.stdout
    rungs = [line for line in proc.stdout.splitlines() if re.match(r"^ [ *](tiny|small|medium) ", line)]
    assert len(rungs) == 3 and sum(line.startswith(" *") for line in rungs) == 1, rungs
    assert all("decodes " in line for line in rungs if "not installed" not in line), rungs
