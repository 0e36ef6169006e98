"""The thread count for CPU inference follows the cores that other programs leave free."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from smallcoder_lsp.backends.free_cores import (
    MIN_INTERVAL_S,
    FreeCores,
    cpu_limit,
    read_busy_seconds,
    usable_cpus,
)
from smallcoder_lsp.bench.run import busy_programs


class Machine:
    """A fake clock, ``/proc/stat`` and process CPU time: ``run`` advances them as programs use the CPUs."""

    def __init__(self) -> None:
        self.now = 100.0
        self.busy = 5000.0
        self.own = 10.0
        self.reads = 0

    def read_busy(self, cpus: list[int]) -> float:
        self.reads += 1
        return self.busy

    def run(self, seconds: float, others: float, own: float = 0.0) -> None:
        """``others`` and ``own``: cores' worth of CPU time used by other programs and by this process."""
        self.now += seconds
        self.busy += seconds * (others + own)
        self.own += seconds * own


def free_cores(machine: Machine, cpus: int = 2) -> FreeCores:
    return FreeCores(list(range(cpus)), machine.read_busy, lambda: machine.own, lambda: machine.now, lambda: None)


@pytest.mark.parametrize(
    ("cpus", "others", "expected"),
    [(2, 0.05, 2), (2, 1.0, 1), (2, 0.5, 1), (2, 0.4, 2), (2, 2.0, 1), (2, 5.0, 1), (8, 3.0, 5), (8, 0.0, 8)],
)
def test_threads_run_on_the_cores_others_leave_free(cpus: int, others: float, expected: int) -> None:
    machine = Machine()
    free = free_cores(machine, cpus)
    assert free() == cpus  # nothing measured yet: every core
    machine.run(1.0, others)
    assert free() == expected
    assert free.others == pytest.approx(others)


def test_this_process_own_work_does_not_count_as_taken() -> None:
    machine = Machine()
    free = free_cores(machine)
    machine.run(1.0, others=0.1, own=1.9)  # our own threads kept both cores busy
    assert free() == 2


def test_it_measures_again_only_after_an_interval_and_follows_the_load() -> None:
    machine = Machine()
    free = free_cores(machine)
    machine.run(1.0, others=1.0)
    assert free() == 1
    reads = machine.reads
    machine.run(MIN_INTERVAL_S / 2, others=0.0)
    assert free() == 1 and machine.reads == reads  # too soon: the last answer, nothing read
    machine.run(1.0, others=0.0)
    assert free() == 2  # the build finished


def test_without_proc_stat_every_core_is_used() -> None:
    free = FreeCores([0, 1, 2], lambda cpus: None, read_limit=lambda: None)
    assert not free.measured
    time.sleep(MIN_INTERVAL_S)
    assert free() == 3


def test_proc_stat_is_read_for_the_usable_cpus_only(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  900 0 900 9000 0 0 0 0 0 0\n"
        "cpu0 100 5 50 1000 40 1 2 3 7 0\n"
        "cpu1 200 0 100 2000 0 0 0 0 0 0\n"
        "cpu2 600 0 750 6000 0 0 0 0 0 0\n"
        "intr 12345\n"
    )
    tick = os.sysconf("SC_CLK_TCK")
    # user + nice + system + irq + softirq + steal; idle, iowait and guest (inside user) are not busy
    assert read_busy_seconds([0, 1], str(stat)) == pytest.approx((161 + 300) / tick)
    assert read_busy_seconds([7], str(stat)) is None
    assert read_busy_seconds([0], str(tmp_path / "missing")) is None
    for garbage in (b"cpu0 \xff\xfe garbage\n", b"cpu0 12\n", b"cpu0 1 x 3 4\n"):
        stat.write_bytes(garbage)
        assert read_busy_seconds([0], str(stat)) is None


@pytest.mark.skipif(not Path("/proc/stat").exists() or len(usable_cpus()) < 2, reason="needs /proc/stat, 2 cores")
def test_a_busy_program_beside_this_one_takes_a_core() -> None:
    with busy_programs(1) as (busy,):
        os.sched_setaffinity(busy.pid, {usable_cpus()[0]})
        free = FreeCores()
        time.sleep(1.0)
        assert free() <= len(free.cpus) - 1
        assert free.others >= 0.5


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_container_cpu_limit_caps_the_threads(tmp_path: Path) -> None:
    root, membership = tmp_path / "cgroup", tmp_path / "self-cgroup"
    assert cpu_limit(root, membership) is None  # no membership file: no limit known
    write(membership, "0::/user.slice/app.scope\n")
    assert cpu_limit(root, membership) is None  # no cpu.max anywhere
    write(root / "user.slice/app.scope/cpu.max", "max 100000\n")
    write(root / "user.slice/cpu.max", "250000 100000\n")
    assert cpu_limit(root, membership) == pytest.approx(2.5)  # the parent's limit holds for its children
    write(root / "user.slice/app.scope/cpu.max", "50000 100000\n")
    assert cpu_limit(root, membership) == pytest.approx(0.5)  # the tightest on the way up
    write(membership, "12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n")
    write(root / "cpu/docker/abc/cpu.cfs_quota_us", "-1\n")
    write(root / "cpu/docker/abc/cpu.cfs_period_us", "100000\n")
    assert cpu_limit(root, membership) is None  # v1 without a quota; v2's root has no cpu.max
    write(root / "cpu/docker/abc/cpu.cfs_quota_us", "300000\n")
    assert cpu_limit(root, membership) == pytest.approx(3.0)
    write(root / "cpu/docker/abc/cpu.cfs_quota_us", "lots\n")
    write(membership, "garbage\n12:cpu,cpuacct:/docker/abc\n")
    assert cpu_limit(root, membership) is None

    machine = Machine()
    for limit, expected in ((2.5, 2), (0.5, 1), (16.0, 8), (None, 8)):
        free = FreeCores(
            list(range(8)), machine.read_busy, lambda: machine.own, lambda: machine.now, lambda limit=limit: limit
        )
        assert free() == expected  # nothing measured yet: as many as the limit allows whole
        machine.run(1.0, others=0.0)
        assert free() == expected
        machine.run(1.0, others=7.0)
        assert free() == 1
