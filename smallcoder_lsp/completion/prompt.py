"""Prompt formats as data, and ``build_prompt``.

A FIM-trained model gets its own template; a model without FIM tokens (the embedded Gemma 3 270M base) gets
the prefix alone, and the suffix is used only to trim and check the result. The prompt is laid out so that its
start stays the same while the user types: only its end changes between keystrokes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from smallcoder_lsp.context.extract import CompletionContext, ContextBlock


@dataclass(frozen=True)
class FimTemplate:
    name: str
    prefix: str
    suffix: str
    middle: str
    order: str = "psm"
    """``psm``: prefix, suffix, middle; ``spm``: suffix, prefix, middle."""
    ends: tuple[str, ...] = ()
    """Special tokens that end the middle, besides the model's own end of text: the family's padding, file and
    turn markers (an instruct model that keeps FIM tokens may close the hole with any of them)."""

    @property
    def tokens(self) -> tuple[str, str, str]:
        return (self.prefix, self.suffix, self.middle)


# Detection tries these in order: the first whose three tokens are all single special tokens wins.
FIM_TEMPLATES: tuple[FimTemplate, ...] = (
    # Qwen2.5-Coder, StarCoder2 and CodeGemma share one spelling.
    FimTemplate(
        "qwen2.5-coder",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        ends=("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>", "<|file_separator|>"),
    ),
    FimTemplate(
        "starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", ends=("<|endoftext|>", "<fim_pad>", "<file_sep>")
    ),
    FimTemplate("deepseek-coder", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", ends=("<|EOT|>",)),
    FimTemplate("codellama", "<PRE> ", " <SUF>", " <MID>", ends=("<EOT>",)),
)


def detect_fim_template(special_tokens: Mapping[str, int]) -> FimTemplate | None:
    """The FIM template whose tokens the model's vocabulary has as special tokens, or None."""
    for template in FIM_TEMPLATES:
        if all(tok.strip() in special_tokens for tok in template.tokens):
            return template
    return None


@dataclass(frozen=True)
class Prompt:
    before: str
    """Everything up to the cursor (the hole): what token healing backs up from its end."""
    after: str = ""
    """What follows the hole in a FIM prompt: the suffix and the marker after which the middle is written."""
    add_bos: bool = True

    @property
    def text(self) -> str:
        return self.before + self.after


def build_prompt(
    ctx: CompletionContext, fim: FimTemplate | None, blocks: Sequence[ContextBlock] | None = None, cut: int = 0
) -> Prompt:
    """The prompt text: extra context blocks, then the prefix window (and for FIM models, the suffix).

    ``blocks`` defaults to all of the context's blocks, and the window starts ``cut`` characters into the
    context's prefix (one of ``ctx.cuts``); the runtime passes fewer blocks, or a cut, to fit its token budget.
    """
    header = "".join(block.text + "\n\n" for block in (ctx.blocks if blocks is None else blocks))
    prefix = header + ctx.prefix[cut:]
    if fim is None:
        return Prompt(prefix)
    if fim.order == "spm":
        return Prompt(f"{fim.suffix}{ctx.suffix}{fim.prefix}{prefix}", fim.middle)
    return Prompt(f"{fim.prefix}{prefix}", f"{fim.suffix}{ctx.suffix}{fim.middle}")
