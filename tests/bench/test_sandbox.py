"""The sandbox contains a hanging task and a task that uses the network."""

from __future__ import annotations

import os
import socket
import time

import pytest

from smallcoder_lsp.bench import sandbox
from smallcoder_lsp.bench.sandbox import run_python


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); it has stopped running, which is what matters.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] == "Z"


def test_a_passing_and_a_failing_task():
    assert run_python("assert 1 + 1 == 2\n").passed
    result = run_python("assert 1 + 1 == 3\n")
    assert not result.passed and result.reason.startswith("failed") and "AssertionError" in result.output


def test_a_hanging_task_and_its_child_are_killed_at_the_timeout(tmp_path):
    pids = tmp_path / "pids"
    code = (
        "import os, subprocess, time\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "while True:\n    time.sleep(0.01)\n"
    )
    started = time.monotonic()
    result = run_python(code, timeout=1.0)
    assert result.reason == "timeout" and not result.passed
    assert time.monotonic() - started < 30
    for pid in map(int, pids.read_text().split()):
        assert gone(pid), pid


@pytest.mark.parametrize("namespace", [True, False], ids=["unshare+hook", "hook-only"])
def test_a_network_task_is_blocked(monkeypatch, namespace):
    if not namespace:
        monkeypatch.setattr(sandbox, "can_unshare_network", lambda: False)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\ns.sendall(b'hi')\n"
        result = run_python(code, timeout=5.0)
        assert not result.passed and result.reason == "network"
        with pytest.raises(TimeoutError):
            listener.accept()


def test_asyncio_still_works_inside_the_sandbox():
    assert run_python("import asyncio\nassert asyncio.run(asyncio.sleep(0, 5)) == 5\n").passed
