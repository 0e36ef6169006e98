"""Docstrings from instruct models: no chat text (role markers, preambles, fences, quotes, the name repeated, lead-ins,
explanations) reaches the docstring, and an instruct model is told from a base one by its chat template."""

from __future__ import annotations

import ast
import dataclasses
from types import SimpleNamespace

import pytest

from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.backends.llama_cpp import LlamaCppBackend
from smallcoder_lsp.completion.engine import Engine
from smallcoder_lsp.config import Config, DocstringConfig
from smallcoder_lsp.context.definitions import DefinitionInfo, find_definition
from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.docstring.chat_text import answer_done, strip_chat_text
from smallcoder_lsp.docstring.pipeline import write_docstring

QWEN_TEMPLATE = (
    "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + "
    "'\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
SOURCE = "def rgb_to_hls(r, g, b):\n    maxc = max(r, g, b)\n    return h, l, s\n"

# (what an instruct model wrote, the slot, the definition's name, what the docstring gets). Several are answers that
# Qwen2.5-Coder-0.5B-Instruct gave when asked in its chat template; the others are written the way it answers.
ANSWERS = [
    (
        "Sure! Here is a one-line summary of what this function does:\n\n```\nConverts RGB values to HLS.\n```",
        "summary",
        "rgb_to_hls",
        "Converts RGB values to HLS.",
    ),
    ('"Converts an RGB color to HLS."', "summary", "rgb_to_hls", "Converts an RGB color to HLS."),
    (
        "rgb_to_hls(r, g, b)\n\nConverts RGB to HLS. It first finds the max.",
        "summary",
        "rgb_to_hls",
        "Converts RGB to HLS.",
    ),
    ("```python\ndef rgb_to_hls(r, g, b):\n```\nConverts RGB to HLS.", "summary", "rgb_to_hls", "Converts RGB to HLS."),
    ("<|im_start|>assistant\nThis function is used to convert a color.<|im_end|>", "summary", "f", "Convert a color."),
    (
        "**Summary:** Escapes HTML characters (e.g. `<`) in a string.",
        "summary",
        "escape",
        "Escapes HTML characters (e.g. `<`) in a string.",
    ),
    ('Certainly! Here\'s the docstring:\n```python\n"""Escape HTML."""\n```', "summary", "escape", "Escape HTML."),
    ("The `median` function computes the middle value.<|im_end|>", "summary", "median", "Computes the middle value."),
    (
        "This function is a checkpoint decorator that updates a module.",
        "summary",
        "checkpoint",
        "A checkpoint decorator that updates a module.",
    ),
    ("Converts RGB to HLS. This summary captures the essence of the function.", "summary", "f", "Converts RGB to HLS."),
    (
        "The parameter `r` in the function `rgb_to_hls` represents the red component of the RGB color.",
        "param:r",
        "rgb_to_hls",
        "The red component of the RGB color.",
    ),
    (
        "`r` is the red component, from 0 to 1. It is a float.",
        "param:r",
        "rgb_to_hls",
        "The red component, from 0 to 1.",
    ),
    ("Parameters `tensors` are a dictionary of tensors.", "param:tensors", "save", "A dictionary of tensors."),
    ("- `data`: The numbers to take the median of.", "param:data", "median", "The numbers to take the median of."),
    ("kwargs (dict): Extra options passed on.", "param:**kwargs", "dumps", "Extra options passed on."),
    ("The separator. Defaults to a space.", "param:sep", "capwords", "The separator. Defaults to a space."),
    ("This function returns a tuple (h, l, s). It first determines", "returns", "rgb_to_hls", "A tuple (h, l, s)."),
    ("assistant: Returns the median of data.", "returns", "median", "The median of data."),
    (
        "It raises `ValueError` if the address is not valid.",
        "raises:ValueError",
        "ip_address",
        "If the address is not valid.",
    ),
    ("Okay.\n\n\n<|endoftext|>", "summary", "f", ""),
    ("```\n```", "returns", "f", ""),
]


@pytest.mark.parametrize(("raw", "slot", "name", "kept"), ANSWERS)
def test_chat_text_is_stripped_from_an_answer(raw: str, slot: str, name: str, kept: str):
    assert strip_chat_text(raw, slot, name) == kept


def test_a_bare_name_that_is_also_the_verb_is_kept():
    kept = "Escape the HTML characters in s."
    assert strip_chat_text(kept, "summary", "escape") == kept


def test_a_part_ends_after_a_line_of_answer_not_after_a_line_of_chat():
    assert not answer_done("Sure! Here is the summary:\n", "f")
    assert not answer_done("```python\ndef f(x):\n", "f")
    assert not answer_done("Converts RGB values to HLS. It", "f")  # one line may hold several sentences
    assert answer_done("```\nConverts RGB values to HLS\n", "f")


def llama_with(template: str | None, eos_text: bytes) -> LlamaCppBackend:
    backend = LlamaCppBackend.__new__(LlamaCppBackend)  # no model file: only the metadata matters here
    metadata = {} if template is None else {"tokenizer.chat_template": template}
    backend._llm = SimpleNamespace(metadata=metadata, token_eos=lambda: 7, detokenize=lambda ids, special: eos_text)
    return backend


def test_llama_cpp_gives_the_chat_template_of_an_instruct_model_only():
    assert llama_with(QWEN_TEMPLATE, b"<|im_end|>")._chat_template() == QWEN_TEMPLATE  # Qwen2.5 instruct
    assert llama_with(QWEN_TEMPLATE, b"<|endoftext|>")._chat_template() == ""  # Qwen2.5 base: same template
    assert llama_with(None, b"<eos>")._chat_template() == ""  # Gemma 3 270M (tiny)


def definition(source: str = SOURCE) -> DefinitionInfo:
    doc = Document("file:///t.py", "python", 1, source.encode())
    assert doc.tree is not None
    return find_definition(doc.tree, doc.text, source.index("(") - 2)


async def docstring_from(backend: FakeBackend) -> str:
    engine = Engine(Config(), loader=lambda _config: backend)
    assert engine.start().result().state == "ready"
    try:
        # The fake model's tokens are bytes: room for a line of chat before the answer.
        config = DocstringConfig(max_tokens=200)
        return await write_docstring(engine, definition(), config, engine.claim("docstring"))
    finally:
        engine.shutdown()


REPLIES = {
    'documented:\ndef rgb_to_hls(r, g, b):\n    """': "Sure! Here's a summary:\n\n```\nConverts RGB to HLS.\n```\n",
    "\n        r: ": "The parameter `r` represents the red level.\n",
    "\n        g: ": '"The green level."\n',
    "\n        b: ": "**b**: The blue level. It is a float between 0 and 1.\n",
    "Returns:\n        ": "rgb_to_hls(r, g, b)\nThis function returns the HLS triple.\n",
}


async def test_an_instruct_model_docstring_has_its_words_and_no_chat_text():
    backend = FakeBackend(REPLIES)
    backend.info = dataclasses.replace(backend.info, chat_template=QWEN_TEMPLATE)
    assert ast.literal_eval(await docstring_from(backend)) == (
        "Converts RGB to HLS.\n\n    Args:\n        r: The red level.\n        g: The green level.\n"
        "        b: The blue level.\n\n    Returns:\n        The HLS triple.\n    "
    )


async def test_a_base_model_part_ends_at_its_first_line_break_as_before():
    doc = ast.literal_eval(await docstring_from(FakeBackend(REPLIES)))  # no chat template: the text as it comes
    assert "r: The parameter `r` represents the red level." in doc
    assert "Returns:\n        Rgb_to_hls(r, g, b).\n" in doc
