"""Running untrusted completed code: a child process with a timeout, resource limits, a temp dir and no network.

The network is cut twice: the child runs in a new network namespace (``unshare -n``) where that works, and an
audit hook installed before the task's code refuses every socket operation in any case.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass

MEMORY_LIMIT = 1 << 30
OUTPUT_LIMIT = 4000
NETWORK_BLOCKED_EXIT = 97

# Installed first in the child; an audit hook cannot be removed, so the task code cannot undo it.
PREAMBLE = f"""\
import os as _os, sys as _sys
def _no_network(event, args):
    if not event.startswith("socket.") or event == "socket.gethostname":
        return
    # asyncio's event loop needs a local socketpair (AF_UNIX); no other socket is allowed.
    local = event == "socket.__new__" and args[1] == 1
    local = local or (event in ("socket.bind", "socket.connect") and isinstance(args[1], str))
    if not local:
        _sys.stderr.write("sandbox: network use blocked (" + event + ")\\n")
        _sys.stderr.flush()
        _os._exit({NETWORK_BLOCKED_EXIT})
_sys.addaudithook(_no_network)
del _no_network
"""


@dataclass(frozen=True)
class SandboxResult:
    passed: bool
    reason: str
    """``ok``, ``timeout``, ``network``, ``failed (exit N)``, or ``error: ...``."""
    output: str = ""


@functools.cache
def can_unshare_network() -> bool:
    try:
        done = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _limit_resources(cpu_seconds: int, memory: int) -> None:
    import resource  # POSIX only; imported in the child

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_python(code: str, timeout: float = 10.0, memory: int = MEMORY_LIMIT) -> SandboxResult:
    """Run ``code`` in a contained child Python; it passes when it exits 0 in time."""
    with tempfile.TemporaryDirectory(prefix="smallcoder-sandbox-") as tmp:
        script = os.path.join(tmp, "task.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write(PREAMBLE + code)
        command = [sys.executable, "-I", "-B", script]
        if can_unshare_network():
            command = ["unshare", "-n", *command]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "PYTHONHASHSEED": "0"}
        try:
            proc = subprocess.Popen(
                command,
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=functools.partial(_limit_resources, int(timeout) + 1, memory),
            )
        except OSError as exc:
            return SandboxResult(False, f"error: {exc}")
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return SandboxResult(False, "timeout")
        finally:
            if proc.poll() is None:
                _kill_group(proc)
    text = out.decode("utf-8", "replace")[-OUTPUT_LIMIT:]
    if proc.returncode == 0:
        return SandboxResult(True, "ok", text)
    if proc.returncode == NETWORK_BLOCKED_EXIT:
        return SandboxResult(False, "network", text)
    return SandboxResult(False, f"failed (exit {proc.returncode})", text)
