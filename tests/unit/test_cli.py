"""``smallcoder-lsp complete``: its settings, its cursor, and what it says on stderr."""

from __future__ import annotations

import pytest

from smallcoder_lsp.cli import EXIT_EMPTY, build_parser, complete_config, completion_notes, cursor
from smallcoder_lsp.completion.result import MODEL, NONE, Completion
from smallcoder_lsp.context.documents import DocumentStore
from smallcoder_lsp.decode.stream import GenerationStats


def parse(*argv: str):
    return build_parser().parse_args(["complete", "f.py", "--line", "1", *argv])


def test_complete_has_no_generation_time_limit_unless_asked():
    assert complete_config(parse()).completion.timeout_ms == 0
    assert complete_config(parse("--timeout-ms", "750")).completion.timeout_ms == 750
    config = complete_config(parse("--backend", "mlx", "--timeout-ms", "9"))
    assert config.backend == "mlx" and config.completion.max_tokens == 48  # the rest are the defaults


def test_cursor_counts_characters_from_one_and_defaults_to_the_line_end():
    doc = DocumentStore().open("file:///t.py", "python", 0, "x = 1\ns = 'é🙂'\n")
    assert cursor(doc, 0, None) == ("x = 1", 5)
    assert cursor(doc, 1, 7) == ("s = 'é", 6 + len("s = 'é".encode()))
    assert cursor(doc, 1, 99) == ("s = 'é🙂'", 6 + len("s = 'é🙂'".encode()))
    assert cursor(doc, 1, 0) == ("", 6)


def stats(stop: str) -> GenerationStats:
    return GenerationStats(prompt_tokens=41, reused_tokens=0, first_token_s=0.5, generated_tokens=8, decode_s=1.0,
                           stop_reason=stop)  # fmt: skip


def test_an_empty_answer_always_says_why():
    nothing_expected = Completion(
        "", 3, source=NONE, reason="no completion expected: the cursor is inside an identifier"
    )
    assert completion_notes(nothing_expected, "llama_cpp", stats=False) == [
        "nothing to insert: no completion expected: the cursor is inside an identifier"
    ]
    trimmed = Completion("", 3, stats=stats("eos"), source=MODEL, reason="What it proposed was trimmed away: repeat")
    assert completion_notes(trimmed, "llama_cpp", stats=False) == [
        "nothing to insert: What it proposed was trimmed away: repeat"
    ]
    assert completion_notes(Completion("", 3), "mlx", stats=False) == ["nothing to insert: the model proposed nothing"]
    assert EXIT_EMPTY not in (0, 1, 2)


def test_stats_name_the_backend_and_the_limit_that_stopped_generation():
    cut = Completion("x", 3, multiline=True, stats=stats("max_tokens"))
    (line,) = completion_notes(cut, "torch", stats=True)
    assert line.startswith("torch: 41 prompt tokens (0 reused), first token 500 ms, 8 generated at 8 tok/s")
    assert line.endswith("stop: max_tokens (the completion.multilineMaxTokens limit)")
    timed_out = Completion("", 3, stats=stats("deadline"), reason="a limit was reached (timeoutMs) before ...")
    notes = completion_notes(timed_out, "mlx", stats=True)
    assert "stop: deadline (the completion.timeoutMs (--timeout-ms) limit)" in notes[0]
    assert notes[1].startswith("nothing to insert: a limit was reached (timeoutMs)")
    assert completion_notes(Completion("x", 3, stats=stats("eos")), "mlx", stats=False) == []


def test_help_documents_the_exit_status(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["complete", "--help"])
    out = capsys.readouterr().out
    assert "exit status" in out and "3  no completion" in out and "--timeout-ms" in out
