from smallcoder_lsp.completion.budget import Throughput, block_choices, fit_blocks
from smallcoder_lsp.context.extract import MULTI, CompletionContext, ContextBlock
from smallcoder_lsp.decode.stream import GenerationStats

BLOCKS = (ContextBlock("definitions", "D" * 50), ContextBlock("imports", "I" * 20), ContextBlock("scopes", "S" * 10))
CTX = CompletionContext("p" * 30, "", "", "", MULTI, "", "python", 0, BLOCKS)


def tokenize(blocks):
    # one token per character, like the fake backend
    return [0, *(ord(c) for c in "".join(b.text for b in blocks) + CTX.prefix)]


def test_drop_order_is_definitions_then_imports_then_scopes():
    kinds = [[b.kind for b in choice] for choice in block_choices(BLOCKS)]
    assert kinds == [["definitions", "imports", "scopes"], ["imports", "scopes"], ["scopes"], []]


def test_no_budget_takes_everything():
    assert fit_blocks(CTX, [], tokenize, None) == tokenize(BLOCKS)


def test_cold_cache_with_a_small_budget_drops_extra_context_but_never_the_window():
    tokens = fit_blocks(CTX, [], tokenize, 45)
    assert tokens == tokenize([BLOCKS[2]])  # scopes (10) + window (30) + BOS fit in 45
    assert fit_blocks(CTX, [], tokenize, 5) == tokenize([])  # nothing fits: the window stays whole


def test_a_warm_cache_affords_everything():
    cached = tokenize(BLOCKS)[:-3]
    assert fit_blocks(CTX, cached, tokenize, 5) == tokenize(BLOCKS)


def test_throughput_measurement_ignores_tiny_prefills_and_is_quantized():
    meter = Throughput()
    meter.observe(GenerationStats(prompt_tokens=10, evaluated_tokens=1, prefill_s=0.001), 30)
    assert meter.prefill_tok_s == 500.0 and meter.chars_per_token == 3.0
    meter.observe(GenerationStats(prompt_tokens=1000, evaluated_tokens=1000, prefill_s=2.0), 2500)
    assert meter.prefill_tok_s == 500.0
    assert meter.chars_per_token * 4 == int(meter.chars_per_token * 4)
    assert meter.chars(100) == int(100 * meter.chars_per_token)
