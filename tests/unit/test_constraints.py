"""Issue 12: the code around the cursor constrains the line being completed (while decoding, and when
candidates are compared). A scripted model with a first and a second choice stands in for the real one."""

from __future__ import annotations

import numpy as np

from smallcoder_lsp.backends.fake import EOS, OFFSET, VOCAB, FakeBackend
from smallcoder_lsp.completion.candidates import choose
from smallcoder_lsp.completion.constraints import LineMonitor, penalties, undefined_names
from smallcoder_lsp.completion.runtime import explain
from smallcoder_lsp.context.demands import LineDemands, block_demand, unopened_closers
from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.context.extract import extract_context
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.sampling import Sampler
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.decode.stopping import StopRules
from smallcoder_lsp.decode.stream import complete


class TwoChoices(FakeBackend):
    """Scripted replies as FakeBackend, plus a second choice: where ``second`` continues the text, its next
    byte gets a lower logit than the first choice's (and a higher one than ending, once the first choice no
    longer continues the text: the model follows what it wrote)."""

    def __init__(self, first: dict[str, str], second: dict[str, str], second_logit: float = 6.0) -> None:
        super().__init__(first)
        self.second = FakeBackend(second)
        self.second_logit = second_logit

    def logits(self):
        out = np.zeros(VOCAB, dtype=np.float32)
        self.second.cache = self.cache
        alternative = self.second._next_byte()
        if alternative is not None:
            out[alternative + OFFSET] = self.second_logit
        nxt = self._next_byte()
        if nxt is not None:
            out[nxt + OFFSET] = 8.0
        else:
            out[EOS] = 1.0 if alternative is not None else 8.0
        return out


def context(text: str, cursor: str = "|"):
    at = text.index(cursor)
    doc = Document("file:///t.py", "python", 1, text.replace(cursor, "").encode())
    return extract_context(doc, at, 4000, 4000)


def chosen(backend: FakeBackend, ctx, limit: int, guided: bool = True):
    """``choose`` at ``ctx`` on ``backend``, as the runtime calls it for a single line."""
    session = Session(backend)
    prompt = backend.tokenize(ctx.prefix, add_bos=True)
    rules = StopRules(multiline=False, max_tokens=40)

    def finish(generation):
        outcome = explain(generation, ctx)
        return outcome.text, outcome.reason

    return choose(session, prompt, ctx, rules, Sampler(), finish, CancelToken(), None, limit, guided)


# -- what the code below demands --------------------------------------------------------------------------------


def test_a_deeper_next_line_demands_a_block_opener():
    assert block_demand("def f(xs):\n    ", "\n        total += x\n    return total\n", "    ", False) == (True, 0)


def test_on_an_empty_line_the_previous_code_line_sets_the_indentation():
    assert block_demand("def f(xs):\n    t = 0\n", "\n    return t\n", "", False) == (False, 0)
    assert block_demand("def f(xs):\n    t = 0\n", "\n        t += 1\n", "", False) == (True, 0)
    assert block_demand("def f(xs):\n", "\n    return t\n", "", False) == (None, 0)  # the body of the def


def test_a_next_line_at_the_same_indent_forbids_one_in_a_single_line_completion():
    assert block_demand("def f(xs):\n    total = 0\n    ", "\n    return total\n", "    ", False) == (False, 0)


def test_deeper_lines_that_close_a_bracket_continue_an_expression_the_line_must_leave_open():
    assert block_demand("def f():\n    ", "\n        1,\n        2,\n    )\n", "    ", False) == (None, 1)
    signature = "\n        self,\n        items: dict[str, list[int]],\n    ) -> None:\n        pass\n"
    assert block_demand("class A:\n    ", signature, "    ", True) == (None, 1)


def test_inside_open_brackets_indentation_demands_nothing():
    assert block_demand("x = foo(\n    ", "\n        b)\n", "    ", False) == (None, 0)


def test_closers_the_rest_of_the_line_brings():
    assert unopened_closers("))") == "))"
    assert unopened_closers("(a), b)") == ")"


# -- the monitor, while decoding ----------------------------------------------------------------------------------


def test_the_monitor_makes_the_line_open_the_block_below():
    monitor = LineMonitor("    ", LineDemands(opens_block=True), multiline=False)
    assert monitor.allows("", "for") and monitor.allows("", "wh")
    assert not monitor.allows("", "total")
    assert not monitor.allows("for x in xs", "\n")
    assert monitor.allows("for x in xs", ":\n")


def test_the_monitor_keeps_brackets_the_rest_of_the_line_closes():
    monitor = LineMonitor("print(len(", LineDemands(closers="))"), multiline=False)
    assert monitor.allows("items", "")
    assert not monitor.allows("items", ")")  # the rest of the line closes it already


def test_the_monitor_does_not_end_a_line_with_brackets_open_for_a_while():
    monitor = LineMonitor("x = max(", LineDemands(), multiline=False)
    assert monitor.allows("a, b", ")") and not monitor.allows("a, b", "\n")
    for _ in range(8):
        monitor.allows("a, b", "\n")
    assert monitor.allows("a, b", "\n")  # it gives way rather than stall


def test_the_monitor_ends_the_line_with_the_brackets_the_lines_below_close():
    monitor = LineMonitor("        ", LineDemands(open_below=1), multiline=False)
    assert monitor.allows("", "self") and monitor.allows("self._send(msg_id)", "")
    assert not monitor.allows("self._send(msg_id)", "\n")  # the arguments below would be left dangling
    assert monitor.allows("self._send(", "\n")
    assert not monitor.allows("self._send((", "\n")  # one more than the lines below close


def test_a_call_continued_on_the_lines_below_makes_a_single_line_that_leaves_it_open():
    text = "def f(server, msg_id):\n    |\n        msg_id,\n        result=None,\n    )\n"
    ctx = context(text)
    assert (ctx.demands.open_below, ctx.demands.opens_block, ctx.mode) == (1, None, "single")
    assert penalties("server.send_response(", ctx)[0] == 0
    assert penalties("server.send_response(msg_id)", ctx)[1] == ["does not open the brackets the lines below close"]
    backend = TwoChoices({ctx.prefix: "return msg_id\n"}, {ctx.prefix: "server.reply(\n"}, second_logit=7.5)
    assert chosen(backend, ctx, limit=1, guided=False).text == "return msg_id"
    assert chosen(backend, ctx, limit=3).text == "server.reply("  # the model's second choice, compared


def test_decoding_under_the_monitor_writes_the_block_opener_the_model_ranked_second():
    text = "def total(xs):\n    t = 0\n|\n        t += x\n    return t\n"
    ctx = context(text)
    assert ctx.demands.opens_block is True
    prompt_text = ctx.prefix
    backend = TwoChoices({prompt_text: "    n = t + 1\n"}, {prompt_text: "    for x in xs:\n"})
    session = Session(backend)
    prompt = backend.tokenize(prompt_text, add_bos=True)
    rules = StopRules(multiline=False, max_tokens=40)
    plain = complete(session, prompt, rules, Sampler(), CancelToken())
    assert plain.text == "    n = t + 1\n"
    monitor = LineMonitor(ctx.line_prefix, ctx.demands, ctx.multiline)
    guided = complete(session, prompt, rules, Sampler(), CancelToken(), monitor=monitor)
    assert guided.text == "    for x in xs:\n"


# -- soft rules and candidates --------------------------------------------------------------------------------


def test_a_name_defined_nowhere_is_penalized_and_a_bound_or_known_one_is_not():
    ctx = context("def f(items):\n    total = 0\n    |\n    return total\n")
    assert undefined_names("return totl", ctx) == ["totl"]
    assert undefined_names("total += len(items)", ctx) == []
    assert undefined_names("count = len(items)", ctx) == []  # it binds count itself
    assert undefined_names("x.appendd(1)", ctx) == ["x"]  # attributes are not checked; x is
    assert penalties("return totl", ctx)[0] > penalties("return total", ctx)[0]


def test_an_undefined_name_loses_to_a_defined_one():
    text = "def f(items):\n    total = 0\n    |\n    return total\n"
    ctx = context(text)
    # Nearly as likely: a made-up name should cost more than that small difference.
    backend = TwoChoices({ctx.prefix: "y = totl + 1\n"}, {ctx.prefix: "x = total + 1\n"}, second_logit=7.5)
    greedy_only = chosen(backend, ctx, limit=1)
    assert greedy_only.text == "y = totl + 1"
    best = chosen(backend, ctx, limit=3)
    assert best.text == "x = total + 1"
    assert best.generation.stats.candidates >= 2


def test_a_trimmed_away_line_is_rescued_by_the_next_choice_when_nothing_is_compared():
    text = "def f(items):\n    total = 0\n    |\n    return total\n"
    ctx = context(text)
    backend = TwoChoices({ctx.prefix: "total = 0\n"}, {ctx.prefix: "count = len(items)\n"})
    # The model's first choice repeats the line above: trimmed away, it would show nothing.
    unguided = chosen(backend, ctx, limit=1, guided=False)
    assert (unguided.text, unguided.generation.text) == ("", "total = 0\n")
    rescued = chosen(backend, ctx, limit=1)
    assert rescued.text == "count = len(items)"
    assert rescued.generation.stats.candidates == 2


def test_alternatives_are_spread_over_the_unsure_tokens_of_the_line():
    from smallcoder_lsp.completion.candidates import spread

    assert spread([3, 9, 14], 4) == {3: 3, 9: 1}  # the first three best there, then the next unsure token
    assert spread([3, 9, 14, 20], 6) == {3: 3, 9: 1, 14: 1, 20: 1}
    assert spread([5], 4) == {5: 4}  # one unsure token: its four next best
    assert spread([2, 7], 1) == {2: 1}
    assert spread([], 3) == {}


def test_a_second_unsure_token_gets_its_own_alternative():
    text = "def f(items):\n    total = 0\n    |\n    return total\n"
    ctx = context(text)
    # The model hesitates twice: between x and y, then between totl and total. Branching only at the first
    # would compare "x = totl + 1" with "y = totl + 1"; the defined name needs the second branch point.
    first = {ctx.prefix: "x = totl + 1\n"}
    second = {ctx.prefix: "y = totl + 1\n", ctx.prefix + "x = tot": "al + 1\n"}
    backend = TwoChoices(first, second, second_logit=7.5)
    best = chosen(backend, ctx, limit=5)
    assert best.text == "x = total + 1"


def test_a_line_may_close_the_brackets_the_lines_above_left_open():
    ctx = context("result = compute(\n    first,\n    second,\n|\nprint(result)\n")
    assert ctx.demands.open_above == 1
    monitor = LineMonitor(ctx.line_prefix, ctx.demands, multiline=False)
    assert monitor.allows("", ")")  # the call's closing line
    assert not monitor.allows(")", ")")  # but nothing more than the lines above opened
    outside = context("x = 1\n|\nprint(x)\n")
    assert outside.demands.open_above == 0
    assert not LineMonitor(outside.line_prefix, outside.demands, multiline=False).allows("", ")")
