"""GGUF to a Hugging Face folder (safetensors + config.json + tokenizer) with transformers' GGUF loader.

transformers dequantizes every tensor to float32 with the ``gguf`` package, so the folder holds exactly the
weights llama.cpp computes with, and ``mlx`` and ``torch`` run the same model as the default backend.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

from smallcoder_lsp.errors import ModelLoadError


def supported_architectures() -> list[str]:
    return [a for a in GGUF_SUPPORTED_ARCHITECTURES if a not in ("general", "tokenizer")]


def convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    """Write the dequantized model and its tokenizer into ``out_dir`` (which must not exist yet)."""
    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (ValueError, KeyError, OSError, RuntimeError) as exc:
        raise ModelLoadError(f"transformers could not read {gguf_path}: {exc}") from exc
    if getattr(tokenizer, "add_bos_token", True) is False:
        # The file names a BOS that its prompts never start with (Qwen2.5: <|endoftext|>); the backends prepend
        # the tokenizer's bos_token when asked to, so it goes, as in the model's own Hugging Face folder.
        tokenizer.bos_token = None
    # The weights are plain float32 tensors now; only the loader's bookkeeping still says "gguf".
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
