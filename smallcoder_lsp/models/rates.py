"""Self-test results remembered per (hardware, model, runtime version), so that ``auto`` measures once.

They live in one JSON file in the user cache (``~/.cache/smallcoder-lsp/selftest.json``). An entry's key hashes
everything that changes a decode rate: the machine (CPU, cores, CUDA devices), the model file, the thread
setting and context length, the runtime's package versions, and our own backend and decode code. Any change
means a new key, so a stale figure is never used. Only successful self-tests are remembered.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from smallcoder_lsp import __version__
from smallcoder_lsp.config import Config
from smallcoder_lsp.models import ladder
from smallcoder_lsp.models.files import resolve_model_path, user_cache_dir
from smallcoder_lsp.models.hardware import Profile
from smallcoder_lsp.models.selftest import SelfTest

log = logging.getLogger(__name__)

DISTRIBUTIONS = {
    "llama_cpp": ("llama-cpp-python",),
    "mlx": ("mlx", "mlx-lm"),
    "torch": ("torch", "transformers"),
}
"""The packages whose versions a backend's rate depends on."""

CODE = ("smallcoder_lsp.decode.session", "smallcoder_lsp.decode.stream")
"""Our modules on the measured path besides the backend's own."""


def cache_file() -> Path:
    return user_cache_dir() / "selftest.json"


def model_identity(setting: str) -> str:
    """The model of the ``model`` setting: a rung that we assemble by its checked content (assembling it again
    keeps its rates), else as a path, size and modification time (a folder: its config.json)."""
    rung = ladder.RUNGS.get(setting)
    if rung is not None and rung.slices:
        resolve_model_path(setting)  # raises ModelLoadError for a rung that is not installed
        return f"{rung.name}:{rung.sha256}"
    path = Path(os.path.expanduser(setting)) if setting and rung is None else None
    if path is None or not path.is_dir():
        path = resolve_model_path(setting)
    stat = (path / "config.json" if path.is_dir() else path).stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def versions(backend: str) -> dict[str, str]:
    found = {}
    for dist in DISTRIBUTIONS.get(backend, ()):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "missing"
    return found


def code_digest(backend: str) -> str:
    """A digest of the source of our modules on the measured path (read, not imported)."""
    digest = hashlib.sha256()
    for module in (f"smallcoder_lsp.backends.{backend}", *CODE):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin:
            digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()[:16]


def fingerprint(backend: str, config: Config, profile: Profile) -> dict[str, Any]:
    """Everything that changes ``backend``'s decode rate here. Raises ModelLoadError for a model that is not there."""
    return {
        "backend": backend,
        "hardware": [profile.os, profile.arch, profile.cpu_model, profile.cpu_cores, *profile.cuda_devices],
        "model": model_identity(config.model),
        "code_vocabulary": config.code_vocabulary,
        "requantize": config.requantize,
        "threads": config.threads,
        "context_length": config.context_length,
        "runtime": versions(backend),
        "code": [__version__, code_digest(backend)],
    }


def key_of(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:20]


def read_all(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def lookup(fields: dict[str, Any], path: Path | None = None) -> SelfTest | None:
    """The remembered self-test for ``fields``, if any."""
    entry = read_all(path or cache_file()).get(key_of(fields))
    if not isinstance(entry, dict) or not isinstance(entry.get("result"), dict):
        return None
    try:
        return SelfTest(**entry["result"])
    except TypeError:  # written by another version of SelfTest
        return None


def remember(fields: dict[str, Any], result: SelfTest, path: Path | None = None) -> None:
    """Keep a successful self-test for ``fields`` (written atomically; a failure to write is only logged)."""
    if not result.ok:
        return
    path = path or cache_file()
    stamped = asdict(result) | {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    data = read_all(path) | {key_of(fields): {"fields": fields, "result": stamped}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".selftest-", suffix=".json")
    except OSError as exc:
        log.warning("cannot remember the self-test in %s: %s", path, exc)
        return
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    except OSError as exc:
        log.warning("cannot remember the self-test in %s: %s", path, exc)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
