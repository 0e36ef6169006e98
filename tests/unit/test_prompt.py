"""Prompt formats are data: each FIM template has a golden string, and detection reads the vocabulary."""

import pytest

from smallcoder_lsp.completion.prompt import FIM_TEMPLATES, build_prompt, detect_fim_template
from smallcoder_lsp.context.extract import MULTI, CompletionContext, ContextBlock

CTX = CompletionContext(
    prefix="def add(a, b):\n    return ",
    suffix="\n\nprint(add(1, 2))\n",
    line_prefix="    return ",
    line_suffix="",
    mode=MULTI,
    indent="    ",
    language_id="python",
    window_start_line=0,
    blocks=(ContextBlock("imports", "import math"),),
)

GOLDEN = {
    "qwen2.5-coder": "<|fim_prefix|>import math\n\ndef add(a, b):\n    return <|fim_suffix|>\n\nprint(add(1, 2))\n"
    "<|fim_middle|>",
    "starcoder": "<fim_prefix>import math\n\ndef add(a, b):\n    return <fim_suffix>\n\nprint(add(1, 2))\n<fim_middle>",
    "deepseek-coder": "<｜fim▁begin｜>import math\n\ndef add(a, b):\n    return <｜fim▁hole｜>\n\nprint(add(1, 2))\n"
    "<｜fim▁end｜>",
    "codellama": "<PRE> import math\n\ndef add(a, b):\n    return  <SUF>\n\nprint(add(1, 2))\n <MID>",
}


@pytest.mark.parametrize("template", FIM_TEMPLATES, ids=lambda t: t.name)
def test_fim_golden(template):
    assert build_prompt(CTX, template).text == GOLDEN[template.name]


def test_every_template_has_a_golden_string():
    assert {t.name for t in FIM_TEMPLATES} == set(GOLDEN)


def test_prefix_only_prompt_for_a_model_without_fim_tokens():
    prompt = build_prompt(CTX, None)
    assert prompt.text == "import math\n\ndef add(a, b):\n    return "
    assert prompt.add_bos


def test_blocks_can_be_left_out():
    assert build_prompt(CTX, None, blocks=[]).text == CTX.prefix


@pytest.mark.parametrize(
    ("vocabulary", "expected"),
    [
        ({"<|fim_prefix|>": 1, "<|fim_suffix|>": 2, "<|fim_middle|>": 3}, "qwen2.5-coder"),
        ({"<fim_prefix>": 1, "<fim_suffix>": 2, "<fim_middle>": 3}, "starcoder"),
        ({"<｜fim▁begin｜>": 1, "<｜fim▁hole｜>": 2, "<｜fim▁end｜>": 3}, "deepseek-coder"),
        ({"<PRE>": 1, "<SUF>": 2, "<MID>": 3}, "codellama"),
        ({"<end_of_turn>": 106}, None),  # Gemma 3 270M: no FIM tokens
        ({"<|fim_prefix|>": 1, "<|fim_middle|>": 3}, None),  # incomplete set
    ],
)
def test_detection_from_special_tokens(vocabulary, expected):
    template = detect_fim_template(vocabulary)
    assert (template.name if template else None) == expected


def test_a_fim_prompt_splits_at_the_hole():
    prompt = build_prompt(CTX, FIM_TEMPLATES[0])
    assert prompt.before.endswith("    return ")  # what token healing may back up
    assert prompt.after == "<|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>"
    assert build_prompt(CTX, None).after == ""


def test_the_qwen_family_ends_on_its_padding_file_and_turn_markers():
    qwen = FIM_TEMPLATES[0]
    assert {"<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>"} <= set(qwen.ends)
    assert all(template.ends for template in FIM_TEMPLATES)
