"""The shipped corpus: complete, well-formed, and its tests pass with the reference solutions only."""

from __future__ import annotations

import pytest

from smallcoder_lsp.bench.corpus import (
    CATEGORIES,
    LEVELS,
    QUICK_TASKS,
    CorpusError,
    keyword_score,
    load_task,
    parse_task,
    task_paths,
)
from smallcoder_lsp.bench.replay import accepted_text, lsp_position, suggestion_of
from smallcoder_lsp.bench.sandbox import run_python
from smallcoder_lsp.bench.trace import (
    TYPING_FILES,
    load_sessions,
    neighbours,
    sessions_from_source,
    split_keystrokes,
)
from smallcoder_lsp.context.syntax import error_count

SMALLCODER = {"fibonacci", "binary_search", "quicksort", "class_definition", "list_comprehension", "error_handling",
              "async_function", "decorator", "palindrome_check", "merge_sort", "linked_list"}  # fmt: skip


def all_tasks():
    return [load_task(p) for p in task_paths()]


def test_every_category_has_each_level_and_the_smallcoder_tasks_are_there():
    tasks = all_tasks()
    for category in CATEGORIES[:-1]:
        assert {t.level for t in tasks if t.category == category} == set(LEVELS), category
    assert {t.name for t in tasks if t.category == "smallcoder"} == SMALLCODER
    assert set(QUICK_TASKS) <= {t.name for t in tasks}
    assert all(t.keywords and t.tests and t.solution for t in tasks)


def test_reference_solutions_parse_and_pass_and_an_empty_completion_fails():
    for task in all_tasks():
        assert error_count("python", task.prompt + task.solution + task.suffix) == 0, task.name
        assert run_python(task.program(task.solution)).passed, task.name
        assert keyword_score(task, task.solution) > 0, task.name
    # Failing on an empty completion shows the tests test the completion (a sample keeps this test quick).
    for name in ("fibonacci", "doc_parse_pair", "bug_mutable_default"):
        task = load_task(task_paths((name,))[0])
        assert not run_python(task.program("")).passed, name


def test_malformed_and_missing_task_files_are_errors(tmp_path):
    with pytest.raises(CorpusError, match="cursor"):
        parse_task("t", "category: smallcoder\nlevel: basic\n--- prompt\ndef f():\n")
    with pytest.raises(CorpusError, match="category"):
        parse_task("t", "category: poetry\nlevel: basic\n--- prompt\nx = |\n")
    with pytest.raises(CorpusError, match="cannot read"):
        load_task(tmp_path / "missing.task")
    task = parse_task("t", "category: smallcoder\nlevel: basic\nkeywords: a ; b\n--- prompt\nx = |\n--- suffix\ny = 1")
    assert (task.prompt, task.suffix, task.keywords) == ("x = ", "y = 1\n", ("a", "b"))


def test_keystrokes_bring_auto_indent_and_retype_the_body():
    body = "    if x:\n        y = 1\n    return y"
    keys = split_keystrokes(body)
    assert keys[0] == "    " and "\n        " in keys and "\n    " in keys
    assert "".join(keys) == body


def test_sessions_cut_bodies_out_of_real_files():
    source = (
        'def f(a):\n    """Doc."""\n    b = a + 1\n    return b * 2 + a - 3 + len(str(a))\n\n\ndef g():\n    pass\n'
    )
    (session,) = sessions_from_source("m.py", source)
    assert session.name == "m.py:f" and session.body == "    b = a + 1\n    return b * 2 + a - 3 + len(str(a))"
    assert session.before + session.body + session.after == source
    sessions = load_sessions(1200, TYPING_FILES)
    assert len({s.name.split(":")[0] for s in sessions}) == len(TYPING_FILES)


def test_the_simulated_user_accepts_only_the_true_rest_of_the_line():
    remaining = "x + 1)\n    return y\n"
    assert accepted_text("x + 1)", remaining) == "x + 1)"
    assert accepted_text("x + 1)\n    return y", remaining) == "x + 1)\n    return y"
    assert accepted_text("x + 1)\n    return z", remaining) == "x + 1)"
    assert accepted_text("x + 2)", remaining) == ""
    assert accepted_text("x + 1", remaining) == ""
    assert accepted_text("", remaining) == ""


def test_positions_and_suggestions_in_lsp_terms():
    assert lsp_position("ab\n😀x", 5) == (1, 3)
    result = {"items": [{"insertText": "    return x", "range": {}}]}
    assert suggestion_of(result, "    ret") == "urn x"
    assert suggestion_of({"items": []}, "") == ""
    assert suggestion_of(result, "    other") == ""


def test_the_files_open_beside_a_typing_session_are_the_other_files_of_its_project():
    sessions = {s.name.split(":")[0]: s for s in load_sessions(2800)}
    assert [name for name, _ in neighbours(sessions["pygls_server.py"])] == [
        "pygls_json_rpc.py", "pygls_feature_manager.py", "pygls_io_.py", "pygls_language_server.py",
    ]  # fmt: skip
    assert [name for name, _ in neighbours(sessions["colorsys.py"])] == ["bisect.py", "fnmatch.py"]
    assert all(text.strip() for _, text in neighbours(sessions["cattrs_dispatch.py"]))
