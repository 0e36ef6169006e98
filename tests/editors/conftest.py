from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def editors_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "editors"


@pytest.fixture(scope="session")
def server_command() -> list[str]:
    """The real server, with the real embedded model, from this environment."""
    return [sys.executable, "-m", "smallcoder_lsp", "serve"]


@pytest.fixture(scope="session")
def require_program() -> Callable[[str, str], str]:
    """Find a program (the venv's bin first); a missing one fails the test rather than passing unseen in CI."""

    def find(name: str, install: str) -> str:
        found = shutil.which(name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        if found is None:
            pytest.fail(f"{name} is not installed; {install}")
        return found

    return find
