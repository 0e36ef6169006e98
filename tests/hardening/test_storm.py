"""The keystroke storm and the soak, through the bench's stress stage with the real embedded model.

The storm (2,000 keystrokes at 5 ms over 10 documents, switches and cursor jumps, then a pause) runs in CI: the
pause still gets a real suggestion, the worker never holds more than one cancelled task, and memory stays
bounded. How fast the pause is served is a bench figure (``smallcoder-lsp bench --stress``), not asserted here.
The soak runs with ``--long`` only (SMALLCODER_SOAK_MINUTES, default 30).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from smallcoder_lsp.bench.lsp_client import server_command
from smallcoder_lsp.bench.stress import StressOptions, WatchingClient, at_minute, run_soak, stress
from tests.hardening.conftest import is_long
from tests.hardening.figures import record

MB = 2**20


@pytest.mark.model
def test_a_keystroke_storm_leaves_one_stale_task_at_most_and_the_pause_gets_a_suggestion():
    result = asyncio.run(stress(StressOptions(keystrokes=2000, interval_ms=5.0, documents=10)))
    storm = result["storm"]
    record("storm", **{k: v for k, v in storm.items() if k not in ("pause_suggestion", "calm_suggestion")})
    assert result["server_alive"]
    assert storm["pause_latency_s"] is not None, storm["pause_suggestion"]
    assert storm["peak_stale"] <= 1
    assert storm["dropped"] > 0  # the burst did queue decodes that were then dropped unrun
    assert storm["rss_peak_bytes"] < storm["rss_start_bytes"] + 256 * MB


@pytest.mark.model
@pytest.mark.skipif(not is_long(), reason="the soak runs with --long (SMALLCODER_HARDENING_LONG=1)")
def test_a_long_soak_grows_no_memory_threads_or_descriptors():
    minutes = float(os.environ.get("SMALLCODER_SOAK_MINUTES", "30"))

    async def soak() -> dict:
        client = WatchingClient(server_command())
        await client.start()
        try:
            assert (await client.initialize({}))["state"] == "ready"
            return await run_soak(client, minutes, sample_s=min(30.0, minutes * 6))
        finally:
            await client.close()

    result = asyncio.run(soak())
    samples = result["samples"]
    warm = at_minute(samples, min(5.0, minutes / 6)) or samples[0]
    last = samples[-1]
    marks = {m: at_minute(samples, m) for m in (5, 15, 30) if m <= minutes}
    record(
        "soak",
        minutes=minutes,
        keys=result["keys"],
        sessions=result["sessions_typed"],
        rss_mb={m: s["rss_bytes"] / MB for m, s in marks.items() if s},
        warm=warm,
        last=last,
    )
    # Saved KV states may grow up to kvStatesMb by design; the rest of the process must not grow.
    net = [s["rss_bytes"] - (s["kv_saved_bytes"] or 0) for s in (warm, last)]
    assert net[1] < net[0] * 1.05, (warm, last)
    assert last["threads"] <= warm["threads"] and last["fds"] <= warm["fds"], (warm, last)
    assert (last["kv_saved_bytes"] or 0) <= 256 * MB  # kvStatesMb's default
