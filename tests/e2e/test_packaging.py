"""The wheel carries its licences: ours (LICENSE, NOTICE) and those of the third-party corpus files it ships."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build_wheel(tmp_path: Path) -> zipfile.ZipFile:
    # Built from a copy, so that no build/ or egg-info lands in the checkout.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "NOTICE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "smallcoder_lsp", src / "smallcoder_lsp", ignore=shutil.ignore_patterns("__pycache__"))
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
           "-w", str(tmp_path / "dist")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("smallcoder_lsp-*.whl")
    return zipfile.ZipFile(wheel)


def test_the_wheel_ships_the_licences_in_its_metadata(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    licences = {n.split("/licenses/", 1)[1]: n for n in wheel.namelist() if ".dist-info/licenses/" in n}
    assert {"LICENSE", "NOTICE"} <= set(licences)
    assert "Apache License" in wheel.read(licences["LICENSE"]).decode()
    shipped_corpus_folders = {Path(n).parent for n in wheel.namelist() if n.startswith("smallcoder_lsp/bench/corpus/")}
    for folder in shipped_corpus_folders:  # every corpus folder with third-party files brings its licence
        if any((ROOT / folder).glob("NOTICE*")):
            assert any(name.startswith(f"{folder.as_posix()}/LICENSE") for name in licences), folder
    metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: Apache-2.0" in wheel.read(metadata).decode()


def test_the_licence_is_the_full_apache_text_and_the_extension_has_it_too() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert (ROOT / "editors" / "vscode" / "LICENSE").read_text() == text
    assert "smallcoder_lsp/bench/corpus/typing/NOTICE.md" in (ROOT / "NOTICE").read_text()
