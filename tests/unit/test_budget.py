from smallcoder_lsp.completion.budget import PromptChoice, Throughput, fit_prompt, prompt_choices
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
    assert fit_prompt(CTX, [], tokenize, None)[1] == whole()


def test_a_cold_cache_drops_extra_context_first():
    choice, tokens = fit_prompt(CTX, [], tokenize, 50)
    assert choice == PromptChoice((BLOCKS[2],), 0)  # scopes (10 + 2) + window (35) + BOS fit in 50
    assert tokens == whole([BLOCKS[2]])


def test_when_not_even_the_bare_window_fits_a_cold_cache_takes_a_shorter_window_within_the_cold_budget():
    choice, _ = fit_prompt(CTX, [], tokenize, 5, cold_tokens=25)
    assert choice == PromptChoice((), 14)  # the longest window that prefills in the cold budget: 21 + BOS
    choice, _ = fit_prompt(CTX, [], tokenize, 5, cold_tokens=3)
    assert choice == PromptChoice((), 28)  # none fits: the shortest there is, not the whole one (seconds)
    no_cuts = CompletionContext(PREFIX, "", "", "", MULTI, "", "python", 0, BLOCKS)
    assert fit_prompt(no_cuts, [], tokenize, 5, cold_tokens=3)[0] == PromptChoice((), 0)


def test_a_warm_up_that_evaluated_the_extra_context_leaves_the_cache_cold_for_the_window():
    warmed = whole()[:40]  # a warm-up elsewhere in the file got through the blocks, which are the same there
    assert fit_prompt(CTX, warmed, tokenize, 5, cold_tokens=25)[0] == PromptChoice((), 14)
    assert fit_prompt(CTX, whole()[:-20], tokenize, 5, cold_tokens=25)[0] == PromptChoice(BLOCKS, 0)  # nearly done


def test_the_shorter_window_is_taken_once_then_the_whole_one_is_prefilled_again():
    _, tokens = fit_prompt(CTX, [], tokenize, 5, cold_tokens=25)
    typed = CompletionContext(PREFIX + "ab", "", "", "", MULTI, "", "python", 0, BLOCKS, cuts=CTX.cuts)

    def tokenize_typed(choice: PromptChoice) -> list[int]:
        return [0, *(ord(c) for c in build_prompt(typed, None, choice.blocks, choice.cut).text)]

    assert fit_prompt(typed, tokens, tokenize_typed, 5, cold_tokens=25)[0] == PromptChoice((), 0)
    # Half of the whole window evaluated by then (the next keystroke cut it short): it goes on from there.
    half = tokenize_typed(PromptChoice((), 0))[:20]
    assert fit_prompt(typed, half, tokenize_typed, 5, cold_tokens=25)[0] == PromptChoice((), 0)


def test_a_warm_cache_affords_everything():
    cached = whole()[:-3]
    assert fit_prompt(CTX, cached, tokenize, 5)[1] == whole()


def test_throughput_measurement_ignores_tiny_prefills_and_is_quantized():
    meter = Throughput()
    meter.observe(GenerationStats(prompt_tokens=10, evaluated_tokens=1, prefill_s=0.001), 30)
    assert meter.prefill_tok_s == 500.0 and meter.chars_per_token == 3.0
    meter.observe(GenerationStats(prompt_tokens=1000, evaluated_tokens=1000, prefill_s=2.0), 2500)
    assert meter.prefill_tok_s == 500.0
    assert meter.chars_per_token * 4 == int(meter.chars_per_token * 4)
    assert meter.chars(100) == int(100 * meter.chars_per_token)
