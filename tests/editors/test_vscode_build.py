"""The VS Code extension builds from its lockfile, type-checks, passes its Node tests, and packages as a .vsix
with its licence."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="needs Node.js and npm")


def run(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def compiled(editors_dir: Path) -> Path:
    root = editors_dir / "vscode"
    run(["npm", "ci", "--no-audit", "--no-fund"], root)
    run(["npm", "run", "compile"], root)
    return root


def test_extension_compiles_and_packages(compiled: Path, tmp_path: Path) -> None:
    vsix = tmp_path / "smallcoder.vsix"
    run(["npm", "exec", "--", "vsce", "package", "--out", str(vsix)], compiled)
    names = set(zipfile.ZipFile(vsix).namelist())
    assert {"extension/package.json", "extension/out/extension.js", "extension/out/ready.js"} <= names
    assert "extension/LICENSE.txt" in names  # vsce packs the licence file; no --skip-license needed
    assert any(n.startswith("extension/node_modules/vscode-languageclient/") for n in names)
    assert not any(n.startswith(("extension/src/", "extension/test/")) for n in names)


def test_node_unit_tests_pass(compiled: Path) -> None:
    out = run(["node", "--test", "test/"], compiled)
    assert "# fail 0" in out and "# pass 0" not in out, out
