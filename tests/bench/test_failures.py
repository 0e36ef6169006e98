"""Bad input is a failed row with its reason; the run goes on and leaves nothing running."""

from __future__ import annotations

import asyncio
import sys
import textwrap

from smallcoder_lsp.bench.coding import run_corpus
from smallcoder_lsp.bench.corpus import task_paths
from smallcoder_lsp.bench.cuts import load_sources, make_cuts
from smallcoder_lsp.bench.lsp_client import LspClient
from smallcoder_lsp.bench.pauses import PauseModel
from smallcoder_lsp.bench.records import StageResult
from smallcoder_lsp.bench.stages import Plan, run_stage
from smallcoder_lsp.bench.trace import load_sessions

# A stand-in server: it initializes, reports a ready model, and dies at the first completion request.
CRASHING_SERVER = textwrap.dedent(
    """
    import json, os, sys
    def send(msg):
        body = json.dumps(msg).encode()
        sys.stdout.buffer.write(b"Content-Length: %d\\r\\n\\r\\n" % len(body) + body)
        sys.stdout.buffer.flush()
    while True:
        length = 0
        while (line := sys.stdin.buffer.readline()) not in (b"\\r\\n", b""):
            if line.lower().startswith(b"content-length"):
                length = int(line.split(b":")[1])
        msg = json.loads(sys.stdin.buffer.read(length))
        method = msg.get("method")
        if method == "textDocument/inlineCompletion":
            sys.stderr.write("boom: simulated crash\\n")
            os._exit(3)
        if method == "smallcoder/status":
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {"state": "ready", "model": "stand-in"}})
        elif "id" in msg:
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {"capabilities": {}}})
    """
)


def plan_with(tmp_path, **kwargs) -> Plan:
    script = tmp_path / "crash.py"
    script.write_text(CRASHING_SERVER)
    sessions = tuple(load_sessions(120, ("colorsys.py.txt",)))
    cuts = tuple(make_cuts(load_sources(("pygls_io_.py.txt",)), 3))
    return Plan(
        PauseModel(key_s=0.01, pause_s=0.02),
        tuple(task_paths(("fibonacci", "cc_mean"))),
        sessions,
        cuts,
        command=(sys.executable, str(script)),
        **kwargs,
    )


def test_a_server_that_crashes_mid_replay_fails_the_stage_with_its_reason(tmp_path):
    plan = plan_with(tmp_path)
    stage = asyncio.run(run_stage(StageResult("typing", "auto"), plan))
    assert not stage.ok and "exited (code 3)" in stage.reason and "boom" in stage.reason
    assert 1 <= len(stage.requests) < sum(len(s.keystrokes) for s in plan.sessions)


def test_a_server_that_crashes_during_the_corpus_fails_each_task(tmp_path):
    stage = asyncio.run(run_stage(StageResult("corpus", "auto"), plan_with(tmp_path)))
    assert not stage.ok and "exited (code 3)" in stage.reason
    assert [t.name for t in stage.tasks] == ["fibonacci", "cc_mean"]
    assert all("exited" in t.error for t in stage.tasks)


def test_a_server_that_crashes_during_the_line_cuts_fails_each_cut(tmp_path):
    stage = asyncio.run(run_stage(StageResult("lines", "auto"), plan_with(tmp_path)))
    assert not stage.ok and "exited (code 3)" in stage.reason
    assert len(stage.cuts) == 3 and all("exited" in c.error for c in stage.cuts)


def test_an_unknown_backend_fails_without_starting_a_server(tmp_path):
    stage = asyncio.run(run_stage(StageResult("corpus", "quantum9000"), plan_with(tmp_path)))
    assert not stage.ok and "unknown backend 'quantum9000'" in stage.reason and not stage.tasks


def test_a_missing_corpus_file_is_a_failed_row_and_the_rest_runs(tmp_path):
    names: list[str] = []
    client = LspClient(["true"])  # never started: a missing file fails before any request
    records = asyncio.run(run_corpus(client, [tmp_path / "nowhere.task"], names.append))
    assert names == ["nowhere"] and records[0].error.startswith("cannot read")


def test_bench_settings_reach_every_stage_and_the_naive_overrides_go_on_top():
    from smallcoder_lsp.bench.stages import merged
    from smallcoder_lsp.cli import build_parser

    args = build_parser().parse_args(["bench", "--settings", '{"completion": {"holdMs": 800, "autoCandidates": 1}}'])
    assert args.settings == {"completion": {"holdMs": 800, "autoCandidates": 1}}
    naive = merged(args.settings, {"completion": {"holdMs": 60_000, "reuseCache": False}})
    assert naive == {"completion": {"holdMs": 60_000, "autoCandidates": 1, "reuseCache": False}}
    assert args.settings["completion"]["holdMs"] == 800  # the user's tree is not changed
