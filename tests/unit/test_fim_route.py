"""Which prompt a FIM model's requests get (``completion.fim``), the lane each keeps its KV state in, and token
healing at the hole. Fake backend (one token per byte) with the Qwen template forced on: the figures are what was
evaluated and what the prompt says, not what a model would write."""

from __future__ import annotations

from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.completion.budget import Throughput
from smallcoder_lsp.completion.prompt import FIM_TEMPLATES
from smallcoder_lsp.completion.runtime import Runtime, stop_rules
from smallcoder_lsp.config import CompletionConfig, Config
from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.context.extract import CompletionContext, extract_context
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.states import INVOKED, WINDOW

URI = "file:///f.py"
QWEN = FIM_TEMPLATES[0]
BODY = "def total(items):\n    result = 0\n    for item in items:\n        result += item\n    retu"
AFTER = "\n\n\ndef mean(items):\n    return total(items) / len(items)\n"


def fim_runtime(mode: str) -> Runtime:
    config = Config(completion=CompletionConfig(fim=mode))
    runtime = Runtime(FakeBackend(), config, Throughput(prefill_tok_s=100_000.0))
    runtime.fim = QWEN
    return runtime


def context(before: str, after: str = AFTER) -> CompletionContext:
    data = (before + after).encode()
    return extract_context(Document(URI, "python", 1, data), len(before.encode()), 3000, 500, [])


def text_of(runtime: Runtime, tokens: list[int]) -> str:
    assert runtime.backend is not None
    return runtime.backend.detokenize(tokens).decode()


def test_invoked_mode_gives_automatic_requests_the_prefix_alone_and_invoked_ones_the_fim_prompt():
    runtime = fim_runtime("invoked")
    ctx = context(BODY)
    rules = stop_rules(ctx, runtime.config)
    automatic, invoked = runtime.fit(URI, ctx, rules, False), runtime.fit(URI, ctx, rules, True)
    assert QWEN.suffix not in text_of(runtime, automatic.tokens)
    assert text_of(runtime, invoked.tokens).startswith(QWEN.prefix)
    assert text_of(runtime, invoked.tokens).endswith(QWEN.suffix + ctx.suffix + QWEN.middle)


def test_the_fim_prompt_is_healed_at_the_hole_not_at_its_end():
    runtime = fim_runtime("always")
    ctx = context(BODY)
    fit = runtime.fit(URI, ctx, stop_rules(ctx, runtime.config), True)
    assert fit.healed == "retu"  # the word the cursor ends is written again by the model, as its own tokens
    assert text_of(runtime, fit.tokens) == f"{QWEN.prefix}{ctx.prefix[:-4]}{QWEN.suffix}{ctx.suffix}{QWEN.middle}"


def test_invoked_requests_keep_a_lane_of_their_own_so_typing_stays_warm():
    runtime = fim_runtime("invoked")
    runtime.generate(URI, context(BODY), False, CancelToken())
    assert runtime.states is not None and runtime.states.current == (URI, WINDOW)
    runtime.generate(URI, context(BODY + "r"), True, CancelToken())
    assert runtime.states.current == (URI, INVOKED)
    after = runtime.generate(URI, context(BODY + "rn"), False, CancelToken())
    assert runtime.states.current == (URI, WINDOW)
    assert after.generation.stats.evaluated_tokens <= 8  # the typed keys (and the healed word), not the window


def test_one_lane_where_every_request_gets_the_same_kind_of_prompt():
    for mode in ("always", "never"):
        runtime = fim_runtime(mode)
        assert runtime.lane(True) == runtime.lane(False) == WINDOW
    assert fim_runtime("never").route(True) is None
    assert fim_runtime("always").route(False) is QWEN


def test_by_default_every_request_gets_the_prefix_alone():
    runtime = fim_runtime(CompletionConfig().fim)
    assert runtime.route(True) is runtime.route(False) is None
