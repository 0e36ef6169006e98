"""Tiny randomly initialised transformers models, one per architecture the torch backend's own decoder runs.

They are small enough for unit tests on a CPU, and shaped to reach the cases that matter: grouped KV heads, a
sliding window shorter than the test sequences (Gemma 3), q/k norms (Gemma 3, Qwen 3), q/k/v biases (Qwen 2).
Norm weights are randomised too, so that a norm applied as ``w`` instead of ``1 + w`` shows.
"""

from __future__ import annotations

from typing import Any

import torch
import transformers

VOCAB = 300
ARCHITECTURES = ("gemma3_text", "llama", "qwen2", "qwen3", "gemma")
WINDOW = 5


def tiny_config(model_type: str, vocab: int = VOCAB, **overrides: Any) -> Any:
    common: dict[str, Any] = dict(
        vocab_size=vocab, hidden_size=64, intermediate_size=96, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, max_position_embeddings=256,
    )  # fmt: skip
    if model_type == "gemma3_text":
        kinds = ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]
        common.update(sliding_window=WINDOW, layer_types=kinds, query_pre_attn_scalar=16)
    common.update(overrides)
    return transformers.AutoConfig.for_model(model_type, **common)


def tiny_model(model_type: str, seed: int = 0, dtype: torch.dtype = torch.float32, **overrides: Any) -> Any:
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(tiny_config(model_type, **overrides)).to(dtype).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.normal_(0.0, 0.3)
            elif name.endswith("bias"):
                param.normal_(0.0, 0.1)
    return model


def reference_logits(model: Any, ids: list[int]) -> torch.Tensor:
    """The transformers forward over the whole sequence at once: [T, vocab]."""
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0].float()
