"""The VS Code extension builds from its lockfile, type-checks, and packages as a .vsix with its licence."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest


def npm(args: list[str], cwd: Path) -> None:
    proc = subprocess.run(["npm", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"npm {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs Node.js and npm")
def test_extension_compiles_and_packages(editors_dir: Path, tmp_path: Path) -> None:
    root = editors_dir / "vscode"
    vsix = tmp_path / "smallcoder.vsix"
    npm(["ci", "--no-audit", "--no-fund"], root)
    npm(["run", "compile"], root)
    npm(["exec", "--", "vsce", "package", "--out", str(vsix)], root)
    names = set(zipfile.ZipFile(vsix).namelist())
    assert {"extension/package.json", "extension/out/extension.js"} <= names
    assert "extension/LICENSE.txt" in names  # vsce packs the licence file; no --skip-license needed
    assert any(n.startswith("extension/node_modules/vscode-languageclient/") for n in names)
    assert not any(n.startswith("extension/src/") for n in names)
