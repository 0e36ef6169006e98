"""Our own decoder forward over a Hugging Face model's weights, written for a static KV cache and CUDA graphs.

Why not the model's own forward: it builds masks and cache bookkeeping on the host per call (transformers'
``StaticCache`` even allocates a CPU tensor for sliding-window layers), which a CUDA graph cannot capture, and its
cache protocol changes between transformers releases. This forward is tensor code with no data-dependent control
flow: fixed shapes in, fixed shapes out, so it can be captured, replayed and compiled.

It covers the Llama family (Qwen 2 and 3 among it: q/k/v biases, q/k norms) and Gemma 1/3 text models
(``SUPPORTED``); other models keep the HF forward (``torch_hf``). It keeps the HF numerics: float32 norms, rope
tables made by the model's own rotary module, the same activation module. It fuses q/k/v and gate/up into one
matrix each (fewer launches per token).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

SUPPORTED = frozenset({"llama", "qwen2", "qwen3", "gemma", "gemma3_text"})
DYNAMIC_ROPE = frozenset({"dynamic", "longrope"})  # rope tables that change with the sequence length


def unsupported_reason(config: Any) -> str | None:
    """Why this forward cannot run the model of ``config`` (None when it can)."""
    if config.model_type not in SUPPORTED:
        return f"model type '{config.model_type}' (supported: {', '.join(sorted(SUPPORTED))})"
    if getattr(config, "attn_logit_softcapping", None):
        return "attention logit soft-capping"
    if getattr(config, "use_bidirectional_attention", False):
        return "bidirectional attention"
    dynamic = rope_types(config) & DYNAMIC_ROPE
    return f"rope type {', '.join(sorted(dynamic))}" if dynamic else None


def rope_types(config: Any) -> set[str]:
    params = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    found = set()
    for value in [params, *params.values()] if isinstance(params, dict) else []:
        if isinstance(value, dict) and (value.get("rope_type") or value.get("type")):
            found.add(str(value.get("rope_type") or value.get("type")))
    return found


@dataclass
class Layer:
    qkv: torch.Tensor
    qkv_bias: torch.Tensor | None
    out: torch.Tensor
    out_bias: torch.Tensor | None
    gate_up: torch.Tensor
    gate_up_bias: torch.Tensor | None
    down: torch.Tensor
    down_bias: torch.Tensor | None
    act: Callable[[torch.Tensor], torch.Tensor]
    attn_norm: torch.Tensor
    """Norm scales are float32 (Gemma's ``1 + w`` already added)."""
    mlp_norm: torch.Tensor
    attn_out_norm: torch.Tensor | None
    """Gemma 3 normalizes the attention and MLP outputs before each residual add."""
    mlp_out_norm: torch.Tensor | None
    q_norm: torch.Tensor | None
    k_norm: torch.Tensor | None
    window: int | None
    """Sliding-window length, or None for full attention."""
    rope: str
    """Which rope table the layer uses."""


def norm_scale(module: Any) -> torch.Tensor:
    weight = module.weight.detach().float()
    # Gemma's RMSNorm multiplies by (1 + w) in float32; the Llama family by w.
    return 1.0 + weight if type(module).__name__.startswith("Gemma") else weight


def fused(*linears: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    weight = torch.cat([m.weight.detach() for m in linears])
    if all(m.bias is None for m in linears):
        return weight, None
    biases = [m.bias.detach() if m.bias is not None else weight.new_zeros(m.weight.shape[0]) for m in linears]
    return weight, torch.cat(biases)


def bias_of(linear: Any) -> torch.Tensor | None:
    return linear.bias.detach() if linear.bias is not None else None


def rope_tables(model: Any, capacity: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """cos and sin for every position, per rope kind: [capacity, head_dim] each, from the model's rotary module."""
    rotary = model.base_model.rotary_emb
    weight = model.get_input_embeddings().weight
    probe = torch.zeros(1, dtype=weight.dtype, device=weight.device)
    positions = torch.arange(capacity, device=weight.device)[None]
    if "layer_type" not in inspect.signature(rotary.forward).parameters:
        cos, sin = rotary(probe, positions)
        return {"default": (cos[0], sin[0])}
    tables = {}
    for kind in sorted(set(model.config.layer_types)):
        cos, sin = rotary(probe, positions, kind)
        tables[kind] = (cos[0], sin[0])
    return tables


def extract_layer(hf: Any, rope: str) -> Layer:
    attn, mlp = hf.self_attn, hf.mlp
    qkv, qkv_bias = fused(attn.q_proj, attn.k_proj, attn.v_proj)
    gate_up, gate_up_bias = fused(mlp.gate_proj, mlp.up_proj)
    gemma3 = hasattr(hf, "pre_feedforward_layernorm")
    q_norm, k_norm = getattr(attn, "q_norm", None), getattr(attn, "k_norm", None)
    return Layer(
        qkv=qkv,
        qkv_bias=qkv_bias,
        out=attn.o_proj.weight.detach(),
        out_bias=bias_of(attn.o_proj),
        gate_up=gate_up,
        gate_up_bias=gate_up_bias,
        down=mlp.down_proj.weight.detach(),
        down_bias=bias_of(mlp.down_proj),
        act=mlp.act_fn,
        attn_norm=norm_scale(hf.input_layernorm),
        mlp_norm=norm_scale(hf.pre_feedforward_layernorm if gemma3 else hf.post_attention_layernorm),
        attn_out_norm=norm_scale(hf.post_attention_layernorm) if gemma3 else None,
        mlp_out_norm=norm_scale(hf.post_feedforward_layernorm) if gemma3 else None,
        q_norm=norm_scale(q_norm) if q_norm is not None else None,
        k_norm=norm_scale(k_norm) if k_norm is not None else None,
        window=getattr(attn, "sliding_window", None),
        rope=rope,
    )


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def attention_mask(positions: torch.Tensor, keys: torch.Tensor, window: int | None, groups: int) -> torch.Tensor:
    """Which keys each query sees: causal, and within ``window`` for sliding layers.

    positions: [T], keys: [K] -> [groups * T, K] (bool), one block of T rows per query head sharing a KV head."""
    query, key = positions[:, None], keys[None, :]
    allowed = key <= query
    if window is not None:
        allowed = allowed & (key > query - window)
    return allowed.repeat(groups, 1)


class StaticDecoder:
    """The forward of one model, reading and writing a :class:`~smallcoder_lsp.backends.torch_cache.StaticKVCache`."""

    def __init__(self, model: Any, capacity: int) -> None:
        config = model.config
        embed = model.get_input_embeddings()
        self.embed = embed.weight.detach()
        self.dtype, self.device = self.embed.dtype, self.embed.device
        scale = getattr(embed, "embed_scale", None)
        self.embed_scale = scale.to(self.dtype) if isinstance(scale, torch.Tensor) else None
        self.lm_head = model.get_output_embeddings().weight.detach()
        self.final_norm = norm_scale(model.base_model.norm)
        self.eps = float(config.rms_norm_eps)
        self.softcap = getattr(config, "final_logit_softcapping", None)
        first = model.base_model.layers[0].self_attn
        self.heads, self.kv_heads = int(config.num_attention_heads), int(config.num_key_value_heads)
        self.head_dim, self.scaling = int(first.head_dim), float(first.scaling)
        self.groups = self.heads // self.kv_heads
        self.capacity = capacity
        self.rope = rope_tables(model, capacity)
        kinds = list(config.layer_types) if len(self.rope) > 1 else ["default"] * config.num_hidden_layers
        self.layers = [extract_layer(layer, kind) for layer, kind in zip(model.base_model.layers, kinds, strict=True)]
        self.windows = sorted({layer.window for layer in self.layers}, key=lambda w: -1 if w is None else w)
        self.key_positions = torch.arange(capacity, device=self.device)

    @property
    def vocab_size(self) -> int:
        return int(self.lm_head.shape[0])

    def forward(
        self,
        ids: torch.Tensor,
        positions: torch.Tensor,
        last: torch.Tensor,
        keys: list[torch.Tensor],
        values: list[torch.Tensor],
        kv_len: int,
    ) -> torch.Tensor:
        """Write the KV of ``ids`` at ``positions`` and return the logits after the tokens ``last`` of them.

        ids: [1, T] token ids; positions: [T]; last: [R] indices into T -> [vocab] when R is 1, else [R, vocab].
        Attention reads the first ``kv_len`` cache positions, which must cover ``positions``."""
        x = F.embedding(ids, self.embed)
        if self.embed_scale is not None:
            x = x * self.embed_scale
        key_positions = self.key_positions[:kv_len]
        masks = {window: attention_mask(positions, key_positions, window, self.groups) for window in self.windows}
        ropes = {
            kind: (c.index_select(0, positions), s.index_select(0, positions)) for kind, (c, s) in self.rope.items()
        }
        for layer, k_cache, v_cache in zip(self.layers, keys, values, strict=True):
            x = self.block(layer, x, ropes[layer.rope], masks[layer.window], k_cache, v_cache, positions, kv_len)
        hidden = self.norm(x.index_select(1, last), self.final_norm)
        logits = F.linear(hidden, self.lm_head)[0]  # [R, vocab]
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits[0] if logits.shape[0] == 1 else logits

    def forward_full(
        self, ids: torch.Tensor, positions: torch.Tensor, last: torch.Tensor, keys: list[Any], values: list[Any]
    ) -> torch.Tensor:
        """``forward`` over the whole cache: one shape for every position, as a captured graph needs."""
        return self.forward(ids, positions, last, keys, values, self.capacity)

    def norm(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x.float(), (x.shape[-1],), scale, self.eps).to(x.dtype)

    def block(
        self,
        layer: Layer,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        positions: torch.Tensor,
        kv_len: int,
    ) -> torch.Tensor:
        # x: [1, T, hidden] -> [1, T, hidden]
        h = self.attention(layer, self.norm(x, layer.attn_norm), rope, mask, k_cache, v_cache, positions, kv_len)
        if layer.attn_out_norm is not None:
            h = self.norm(h, layer.attn_out_norm)
        x = x + h
        gate, up = F.linear(self.norm(x, layer.mlp_norm), layer.gate_up, layer.gate_up_bias).chunk(2, dim=-1)
        h = F.linear(layer.act(gate) * up, layer.down, layer.down_bias)
        if layer.mlp_out_norm is not None:
            h = self.norm(h, layer.mlp_out_norm)
        return x + h

    def attention(
        self,
        layer: Layer,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        positions: torch.Tensor,
        kv_len: int,
    ) -> torch.Tensor:
        # x: [1, T, hidden]; k_cache, v_cache: [1, kv_heads, capacity, head_dim] -> [1, T, hidden]
        t, d = x.shape[1], self.head_dim
        q, k, v = F.linear(x, layer.qkv, layer.qkv_bias).split(
            [self.heads * d, self.kv_heads * d, self.kv_heads * d], dim=-1
        )
        q = q.view(1, t, self.heads, d).transpose(1, 2)
        k = k.view(1, t, self.kv_heads, d).transpose(1, 2)
        v = v.view(1, t, self.kv_heads, d).transpose(1, 2)
        if layer.q_norm is not None and layer.k_norm is not None:
            q, k = self.norm(q, layer.q_norm), self.norm(k, layer.k_norm)
        cos, sin = rope  # [T, head_dim]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k_cache.index_copy_(2, positions, k)
        v_cache.index_copy_(2, positions, v)
        # The query heads that share a KV head attend as one block of rows: no copy of the keys per head.
        q = q.reshape(1, self.kv_heads, self.groups * t, d)
        out = F.scaled_dot_product_attention(
            q, k_cache[:, :, :kv_len], v_cache[:, :, :kv_len], attn_mask=mask, scale=self.scaling
        )
        out = out.view(1, self.heads, t, d).transpose(1, 2).reshape(1, t, self.heads * d)
        return F.linear(out, layer.out, layer.out_bias)
