"""The hardware profile, and which backend ``backend = auto`` picks on it (DESIGN.md's table).

Nothing heavy is imported to look: runtimes are found with ``importlib.util.find_spec``, CUDA through the driver
library (``nvidia-smi``'s answer), Metal by platform. On a CUDA machine with torch installed, the table's choice of
torch holds only if torch's measured decode rate beats llama.cpp's (see :mod:`.selftest`; the caller measures).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import platform
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smallcoder_lsp.models.selftest import SelfTest

# backend -> the modules it needs, and the extra that installs them
RUNTIMES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "llama_cpp": (("llama_cpp",), None),
    "mlx": (("mlx", "mlx_lm"), "mlx"),
    "torch": (("torch", "transformers", "safetensors"), "torch"),
    "remote": ((), None),
}


@dataclass(frozen=True)
class Profile:
    os: str
    arch: str
    cpu_cores: int
    ram_gb: float
    apple_silicon: bool
    metal: bool
    cuda_devices: tuple[str, ...] = ()
    """Name and memory of each CUDA device, as the driver reports them."""
    installed: dict[str, bool] = field(default_factory=dict)
    """Runtime module -> importable."""
    cpu_model: str = ""

    @property
    def cuda(self) -> bool:
        return bool(self.cuda_devices)


def importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def total_ram_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return 0.0


def cuda_devices() -> tuple[str, ...]:
    """Ask nvidia-smi when the driver library is present; no CUDA runtime is loaded here."""
    if ctypes.util.find_library("cuda") is None and shutil.which("nvidia-smi") is None:
        return ()
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(line.strip() for line in out.splitlines() if line.strip())


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def detect() -> Profile:
    system, arch = platform.system(), platform.machine().lower()
    apple = system == "Darwin" and arch in ("arm64", "aarch64")
    modules = sorted({m for needs, _ in RUNTIMES.values() for m in needs})
    return Profile(
        os=f"{system} {platform.release()}",
        arch=arch,
        cpu_cores=os.cpu_count() or 1,
        ram_gb=round(total_ram_gb(), 1),
        apple_silicon=apple,
        metal=apple,  # every Apple Silicon Mac has Metal
        cuda_devices=cuda_devices(),
        installed={m: importable(m) for m in modules},
        cpu_model=cpu_model(),
    )


def availability(profile: Profile, backend: str) -> tuple[bool, str]:
    """Whether ``backend`` can run here, and why (not)."""
    needs, extra = RUNTIMES[backend]
    missing = [m for m in needs if not profile.installed.get(m, False)]
    if missing:
        hint = f"pip install 'smallcoder-lsp[{extra}]'" if extra else "reinstall smallcoder-lsp"
        return False, f"not installed (missing {', '.join(missing)}); {hint}"
    if backend == "remote":
        return True, "needs remoteUrl: an OpenAI-compatible server"
    if backend == "mlx" and not profile.apple_silicon:
        return True, f"CPU build on {profile.os.split()[0]} (no Apple Silicon here); it is for Apple Silicon"
    if backend == "torch" and not profile.cuda:
        return True, "on the CPU here (no CUDA device); it is for NVIDIA GPUs"
    if backend == "torch":
        return True, f"CUDA device here ({profile.cuda_devices[0]})"
    return True, "installed"


def measured_contenders(profile: Profile) -> tuple[str, ...]:
    """The backends whose self-tests decide ``auto`` here: torch and llama_cpp where the table would pick torch
    (a CUDA device and torch installed), nothing elsewhere, where the table alone decides."""
    if profile.apple_silicon and availability(profile, "mlx")[0]:
        return ()
    if profile.cuda and availability(profile, "torch")[0] and availability(profile, "llama_cpp")[0]:
        return ("torch", "llama_cpp")
    return ()


def choose_backend(setting: str, profile: Profile, tests: Mapping[str, SelfTest] | None = None) -> tuple[str, str]:
    """The backend for ``setting`` on ``profile``, and the reason. ``tests`` holds the self-tests of
    :func:`measured_contenders`; without them a CUDA machine gets torch, unmeasured."""
    if setting != "auto":
        return setting, f"backend = {setting} was set explicitly"
    if profile.apple_silicon and availability(profile, "mlx")[0]:
        return "mlx", "Apple Silicon with Metal, and mlx is installed"
    if profile.cuda and availability(profile, "torch")[0]:
        return torch_or_llama_cpp(profile.cuda_devices[0], tests or {})
    reasons = []
    if profile.apple_silicon:
        reasons.append("Apple Silicon but mlx is not installed")
    elif profile.cuda:
        reasons.append("CUDA found but torch is not installed")
    else:
        reasons.append("no Apple Silicon and no CUDA device")
    return "llama_cpp", "; ".join(reasons) + ": llama.cpp on the CPU"


def torch_or_llama_cpp(device: str, tests: Mapping[str, SelfTest]) -> tuple[str, str]:
    """On a CUDA machine with torch: torch, unless its measured decode rate is below llama.cpp's on the CPU."""
    torch, llama = tests.get("torch"), tests.get("llama_cpp")
    where = f"CUDA device ({device}) and torch is installed"
    if torch is None or llama is None:
        return "torch", f"{where} (decode rates not measured)"
    if not torch.ok:
        return "llama_cpp", f"{where}, but torch's self-test failed ({torch.error}): llama.cpp on the CPU"
    if not llama.ok:
        return "torch", f"{where}: torch decodes at {torch.decode_tok_s:.0f} tok/s (llama.cpp's self-test failed)"
    rates = f"torch decodes at {torch.decode_tok_s:.0f} tok/s there, llama.cpp at {llama.decode_tok_s:.0f} tok/s"
    if torch.decode_tok_s < llama.decode_tok_s:
        return "llama_cpp", f"{where}, but {rates} on the CPU: llama.cpp is faster here"
    return "torch", f"{where}, and {rates} on the CPU"
