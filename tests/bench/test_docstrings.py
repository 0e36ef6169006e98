"""The bench's docstring category: the task's function without its docstring, the command's edit applied,
parameters counted — plus one run through the real server."""

from __future__ import annotations

import pytest

from smallcoder_lsp.bench.corpus import TASKS_DIR, load_task
from smallcoder_lsp.bench.docstrings import apply_edit, document_task, parameters, undocumented_source
from smallcoder_lsp.bench.lsp_client import LspClient, server_command
from smallcoder_lsp.bench.metrics import docstring_summary
from smallcoder_lsp.bench.records import TaskRecord


def test_the_docstring_is_removed_from_the_task():
    task = load_task(TASKS_DIR / "doc_clamp.task")
    assert undocumented_source(task) == "def clamp(value, low, high):\n    return max(low, min(value, high))\n"
    task = load_task(TASKS_DIR / "doc_parse_pair.task")  # the cursor is inside a docstring of several lines
    assert '"""' not in undocumented_source(task)
    assert undocumented_source(task).startswith("def parse_pair(text):\n")


def test_parameters_leave_out_self_and_keep_star_args():
    source = "class A:\n    def m(self, a, /, b=1, *rest, c, **kw):\n        pass\n"
    assert parameters(source) == ["a", "b", "c", "rest", "kw"]


def test_apply_edit_inserts_at_a_position():
    at = {"line": 0, "character": 9}
    edit = {"documentChanges": [{"edits": [{"range": {"start": at, "end": at}, "newText": '\n    """Doc."""'}]}]}
    assert apply_edit("def f(x):\n    return x", edit) == 'def f(x):\n    """Doc."""\n    return x'


def test_docstring_summary_counts_only_docstring_tasks():
    records = [
        TaskRecord("a", "docstring_generation", "basic", docstring_parses=True, docstring_params_covered=1.0),
        TaskRecord("b", "docstring_generation", "basic", docstring_parses=False, docstring_params_covered=0.5),
        TaskRecord("c", "code_completion", "basic"),
    ]
    assert docstring_summary(records) == {"docstring_parses_rate": 0.5, "docstring_params_covered": 0.75}
    assert docstring_summary(records[2:]) == {"docstring_parses_rate": None, "docstring_params_covered": None}


@pytest.mark.model
async def test_a_docstring_task_through_the_real_server():
    client = LspClient(server_command())
    await client.start()
    try:
        assert (await client.initialize({}))["state"] == "ready"
        task = load_task(TASKS_DIR / "doc_parse_pair.task")
        parses, covered, why = await document_task(client, task, "file:///bench/doc_parse_pair.py")
    finally:
        await client.close()
    assert why == ""
    assert parses is True
    assert covered == 1.0  # the parameter list comes from the syntax tree, not from the model
