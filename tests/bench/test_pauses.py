"""The pause model: where the simulated user stops typing, and for how long."""

from __future__ import annotations

from smallcoder_lsp.bench.pauses import BOUNDARY_CHARS, PauseModel, line_start_offsets
from smallcoder_lsp.bench.run import FULL_TYPING_KEYS
from smallcoder_lsp.bench.trace import TYPING_FILES, load_sessions, split_keystrokes

BODY = "    x = f(a, b)\n    if x:\n        return x.y[0]\n    return None"


def test_line_starts_are_after_the_indentation():
    starts = line_start_offsets(BODY)
    assert [BODY[s : s + 6] for s in starts] == ["x = f(", "if x:\n", "return", "return"]
    assert line_start_offsets("    a\n\n    b") == [4, 11]  # a blank line has no start


def test_every_line_start_is_a_pause_and_boundaries_only_with_their_probability():
    never = PauseModel(boundary_probability=0.0).pause_offsets("s", BODY)
    assert never == frozenset(line_start_offsets(BODY))
    always = PauseModel(boundary_probability=1.0).pause_offsets("s", BODY)
    boundary = {i + 1 for i, ch in enumerate(BODY) if ch in BOUNDARY_CHARS}
    # After a boundary unless whitespace or the line end comes next (the user types those first), or the body ends.
    expected = {o for o in boundary if o < len(BODY) and BODY[o] not in " \t\n"} | never
    assert always == expected
    assert 1 not in always and len(BODY) not in always  # inside the first indentation, and the end


def test_pauses_are_fixed_by_seed_and_session_name():
    model = PauseModel(boundary_probability=0.5)
    assert model.pause_offsets("s", BODY) == PauseModel(boundary_probability=0.5).pause_offsets("s", BODY)
    draws = {PauseModel(boundary_probability=0.5, seed=seed).pause_offsets("s", BODY) for seed in range(8)}
    assert len(draws) > 1


def test_delays_and_reachable_pauses_in_the_shipped_sessions():
    model = PauseModel()
    sessions = load_sessions(FULL_TYPING_KEYS, TYPING_FILES)
    for session in sessions:
        pauses = model.pause_offsets(session.name, session.body)
        typed, reached = 0, set()
        for key in split_keystrokes(session.body):
            typed += len(key)
            if model.delay_after(typed, pauses) == model.pause_s:
                reached.add(typed)
        assert reached == pauses  # typing key by key meets every pause, and only those
    assert model.delay_after(3, frozenset({3})) == 1.0 and model.delay_after(4, frozenset({3})) == 0.12
    assert {s.origin for s in sessions} == {"stdlib", "third-party"}
