"""How many of this process's cores other programs leave free: the thread count for CPU inference.

llama.cpp splits every evaluation across its threads and waits at a barrier for the slowest. When another
program keeps a core busy (a build, a test run, the editor itself), a thread on that core runs in slices and
every other thread waits for it. Measured on 2 cores with one busy process beside the server, a decoded token
took a median of 30 to 216 ms (two runs; 15 ms idle) with stalls up to 0.9 s on 2 threads, and 25 ms on 1; in the
bench's typing replay no suggestion was ready at any pause. So with ``threads`` left at 0 the backend asks
:class:`FreeCores` before each evaluation and runs on the cores nobody else is using.

The measure: the busy time of the CPUs this process may run on (``/proc/stat``, per CPU, so a container limited
to a few of a host's cores looks at those), less this process's own CPU time, over the last interval of at least
``MIN_INTERVAL_S``. Where ``/proc/stat`` cannot be read (macOS, Windows) every core is used, as before.

A container's CPU limit (a cgroup quota: ``docker run --cpus``, a Kubernetes limit) shows all of a host's cores
in the affinity mask, and more threads than the quota allows run in bursts and then wait out the rest of each
period; so the count never exceeds the limit's whole cores either.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
MIN_INTERVAL_S = 0.25
"""Measure over at least this long: ``/proc/stat`` counts in hundredths of a second."""
TAKEN_SHARE = 0.5
"""A core counts as taken by others once they keep it this busy (between 0 and 1). Not higher: while our threads
share a core with a busy program, that program gets about half of it, and our threads would stay on."""


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (all of them where the platform cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@dataclass(frozen=True)
class Sample:
    at: float
    """``time.monotonic()`` when it was taken."""
    busy_s: float
    """Busy time of the usable CPUs so far, all programs."""
    own_s: float
    """This process's CPU time so far."""


def read_busy_seconds(cpus: list[int], stat_path: str = "/proc/stat") -> float | None:
    """Seconds the given CPUs have spent busy since boot (None where ``stat_path`` cannot be read)."""
    wanted = {f"cpu{n}" for n in cpus}
    ticks = 0
    found = 0
    try:
        with open(stat_path, encoding="ascii") as f:
            for line in f:
                fields = line.split()
                if not fields or fields[0] not in wanted:
                    continue
                # user nice system idle iowait irq softirq steal (guest time is inside user and nice)
                values = [int(v) for v in fields[1:9]]
                ticks += values[0] + values[1] + values[2] + sum(values[5:8])
                found += 1
        return ticks / os.sysconf("SC_CLK_TCK") if found else None
    except (OSError, ValueError, IndexError):  # UnicodeDecodeError is a ValueError
        return None


def cpu_limit(root: Path = CGROUP_ROOT, membership: Path = Path("/proc/self/cgroup")) -> float | None:
    """The cores' worth of CPU time this process's cgroup may use (a container's CPU limit: cgroup v2
    ``cpu.max``, v1 ``cpu.cfs_quota_us``, the tightest on the way up from its group), None where there is none."""
    try:
        groups = membership.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):
        groups = []
    found: list[float] = []
    for line in groups:
        parts = line.split(":", 2)
        if len(parts) < 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # v2: one tree
            folder = root / path.lstrip("/")
            found += _walk_up(folder, root, _v2_limit)
        elif "cpu" in controllers.split(","):
            folder = root / "cpu" / path.lstrip("/")
            found += _walk_up(folder, root / "cpu", _v1_limit)
    return min(found) if found else None


def _walk_up(folder: Path, top: Path, read: Callable[[Path], float | None]) -> list[float]:
    limits = []
    while True:
        limit = read(folder)
        if limit is not None:
            limits.append(limit)
        if folder == top or top not in folder.parents:
            return limits
        folder = folder.parent


def _v2_limit(folder: Path) -> float | None:
    try:  # "quota period", or "max period" for none
        quota, period = (folder / "cpu.max").read_text(encoding="ascii").split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_limit(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text(encoding="ascii"))
        period = int((folder / "cpu.cfs_period_us").read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class FreeCores:
    """The number of usable cores that other programs leave free (at least 1)."""

    def __init__(
        self,
        cpus: list[int] | None = None,
        read_busy: Callable[[list[int]], float | None] = read_busy_seconds,
        read_own: Callable[[], float] = own_cpu_seconds,
        clock: Callable[[], float] = time.monotonic,
        read_limit: Callable[[], float | None] = cpu_limit,
    ) -> None:
        self.cpus = cpus or usable_cpus()
        limit = read_limit()
        self.most = len(self.cpus) if limit is None else max(1, min(len(self.cpus), int(limit)))
        """Never more threads than usable CPUs, nor than a CPU limit allows whole (more would be throttled)."""
        self._read_busy, self._read_own, self._clock = read_busy, read_own, clock
        self._last = self._sample()
        self.others = 0.0
        """Cores' worth of CPU time that other programs used over the last interval."""
        self.count = self.most
        """The answer of the last measurement."""

    @property
    def measured(self) -> bool:
        """Whether this platform tells how busy the CPUs are (else every core is used)."""
        return self._last is not None

    def _sample(self) -> Sample | None:
        busy = self._read_busy(self.cpus)
        return None if busy is None else Sample(self._clock(), busy, self._read_own())

    def __call__(self) -> int:
        """The thread count to run on now: measured again once ``MIN_INTERVAL_S`` has passed, else the last."""
        if self._last is None or self._clock() - self._last.at < MIN_INTERVAL_S:
            return self.count
        now = self._sample()
        if now is None:
            return self.count
        wall = now.at - self._last.at
        others = (now.busy_s - self._last.busy_s) - (now.own_s - self._last.own_s)
        self._last = now
        self.others = max(0.0, others / wall)
        taken = int(self.others + (1.0 - TAKEN_SHARE))
        self.count = max(1, min(self.most, len(self.cpus) - taken))
        return self.count
