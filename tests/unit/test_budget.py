from smallcoder_lsp.completion.budget import (
    WHOLE_WINDOW_S,
    PromptChoice,
    Throughput,
    fit_prompt,
    fitted_window,
    prompt_choices,
)
from smallcoder_lsp.completion.prompt import build_prompt
from smallcoder_lsp.context.extract import MULTI, CompletionContext, ContextBlock
from smallcoder_lsp.decode.stream import GenerationStats

BLOCKS = (ContextBlock("definitions", "D" * 50), ContextBlock("imports", "I" * 20), ContextBlock("scopes", "S" * 10))
PREFIX = "".join(f"line{i:02}\n" for i in range(5))  # 7 characters a line
CTX = CompletionContext(PREFIX, "", "", "", MULTI, "", "python", 0, BLOCKS, cuts=(14, 28))


def tokenize(choice: PromptChoice) -> list[int]:
    # one token per character, like the fake backend
    return [0, *(ord(c) for c in build_prompt(CTX, None, choice.blocks, choice.cut).text)]


def whole(blocks=BLOCKS) -> list[int]:
    return tokenize(PromptChoice(tuple(blocks), 0))


def test_drop_order_is_definitions_then_imports_then_scopes_then_the_window_from_the_top():
    choices = [([b.kind for b in c.blocks], c.cut) for c in prompt_choices(CTX)]
    assert choices == [
        (["definitions", "imports", "scopes"], 0), (["imports", "scopes"], 0), (["scopes"], 0), ([], 0),
        ([], 14), ([], 28),
    ]  # fmt: skip


def test_no_budget_takes_everything():
    assert fit_prompt(CTX, [], tokenize, None).tokens == whole()


def test_a_cold_cache_drops_extra_context_first():
    fit = fit_prompt(CTX, [], tokenize, 50)
    choice, tokens = fit.choice, fit.tokens
    assert fit.ready and choice == PromptChoice((BLOCKS[2],), 0)  # scopes (10 + 2) + window (35) + BOS fit in 50
    assert tokens == whole([BLOCKS[2]])


def test_when_not_even_the_bare_window_fits_a_cold_cache_takes_a_shorter_window_within_the_cold_budget():
    fit = fit_prompt(CTX, [], tokenize, 5, cold_tokens=25)
    assert fit.short and not fit.ready
    assert fit.choice == PromptChoice((), 14)  # the longest window that prefills in the cold budget: 21 + BOS
    # None fits: the shortest there is, not the whole one (seconds).
    assert fit_prompt(CTX, [], tokenize, 5, cold_tokens=3).choice == PromptChoice((), 28)
    no_cuts = CompletionContext(PREFIX, "", "", "", MULTI, "", "python", 0, BLOCKS)
    assert fit_prompt(no_cuts, [], tokenize, 5, cold_tokens=3).choice == PromptChoice((), 0)


def test_a_warm_up_that_is_far_from_done_leaves_the_request_the_shorter_window():
    warmed = whole()[:40]  # a warm-up got through the blocks and a few lines: most of the window is still to come
    assert fit_prompt(CTX, warmed, tokenize, 5, cold_tokens=25).choice == PromptChoice((), 14)
    nearly = fit_prompt(CTX, whole()[:-20], tokenize, 5, cold_tokens=25)  # finishing costs less than the cold budget
    assert nearly.choice == PromptChoice(BLOCKS, 0) and nearly.ready


def test_a_shorter_window_a_warm_up_prefilled_is_the_one_taken():
    short = tokenize(PromptChoice((), 14))
    assert len(short) > 10
    fit = fit_prompt(CTX, [], tokenize, 5, cold_tokens=10, short_cached=short[:-2])
    assert fit.choice == PromptChoice((), 14)  # longer than the cold budget allows cold, but in the cache
    assert fit_prompt(CTX, [], tokenize, 5, cold_tokens=10).choice == PromptChoice((), 28)


def test_the_shorter_window_is_taken_once_then_the_whole_one_is_prefilled_again():
    short = fit_prompt(CTX, [], tokenize, 5, cold_tokens=25)
    typed = CompletionContext(PREFIX + "ab", "", "", "", MULTI, "", "python", 0, BLOCKS, cuts=CTX.cuts)

    def tokenize_typed(choice: PromptChoice) -> list[int]:
        return [0, *(ord(c) for c in build_prompt(typed, None, choice.blocks, choice.cut).text)]

    # The cache holds the short window (its lane holds nothing of the whole one): the bare window costs least.
    after = fit_prompt(typed, short.tokens, tokenize_typed, 5, cold_tokens=25, may_cut=False)
    assert after.choice == PromptChoice((), 0) and not after.ready
    # Half of the whole window evaluated by then (the next keystroke cut it short): it goes on from there.
    half = tokenize_typed(PromptChoice((), 0))[:20]
    assert fit_prompt(typed, half, tokenize_typed, 5, cold_tokens=25, may_cut=False).choice == PromptChoice((), 0)
    # A warm-up had got through part of the richest prompt: the bare window all the same.
    part = tokenize_typed(PromptChoice(BLOCKS, 0))[:60]
    assert fit_prompt(typed, part, tokenize_typed, 5, cold_tokens=25, may_cut=False).choice == PromptChoice((), 0)


def test_a_warm_cache_affords_everything():
    cached = whole()[:-3]
    assert fit_prompt(CTX, cached, tokenize, 5).tokens == whole()


def test_throughput_measurement_ignores_tiny_prefills_and_is_quantized():
    meter = Throughput()
    meter.observe(GenerationStats(prompt_tokens=10, evaluated_tokens=1, prefill_s=0.001), 30)
    assert meter.prefill_tok_s == 500.0 and meter.chars_per_token == 3.0
    meter.observe(GenerationStats(prompt_tokens=1000, evaluated_tokens=1000, prefill_s=2.0), 2500)
    assert meter.prefill_tok_s == 500.0
    assert meter.chars_per_token * 4 == int(meter.chars_per_token * 4)
    assert meter.chars(100) == int(100 * meter.chars_per_token)


def test_a_slow_models_window_is_what_it_prefills_in_the_whole_window_time_and_stays_fixed():
    meter = Throughput()
    meter.loaded(148.0)  # small's self-test on a busy 2-core machine
    assert meter.prefill_tok_s == 148.0 and meter.window_tokens == 512
    assert meter.prefix_chars(1024) == meter.chars(512)
    assert meter.prefix_chars(300) == meter.chars(300)  # the setting stays the most it takes
    meter.observe(GenerationStats(prompt_tokens=1000, evaluated_tokens=1000, prefill_s=10.0), 3000)
    assert meter.window_tokens == 512  # the running average does not move the window's start
    meter.loaded(None)  # a model with no self-test (remote): the setting alone
    assert meter.prefix_chars(1024) == meter.chars(1024)


def test_the_fitted_window_is_the_nearest_whole_step_and_never_below_one():
    assert fitted_window(289.0) >= 1024 and fitted_window(485.0) >= 1024  # tiny: the default window is not cut
    assert fitted_window(148.0) == fitted_window(121.0) == 512  # small's two self-tests on one machine
    assert fitted_window(244.0) == 768 and abs(768 - 244.0 * WHOLE_WINDOW_S) < 128
    assert fitted_window(10.0) == 256
