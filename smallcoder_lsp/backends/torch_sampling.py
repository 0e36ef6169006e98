"""Choosing the next token where the logits are: the device twin of ``decode.sampling``.

It makes the same choice as :func:`smallcoder_lsp.decode.sampling.choose` from the same uniform draw (greedy:
the first highest logit), and leaves the logits on the device: the caller reads back one token id.
"""

from __future__ import annotations

import torch

from smallcoder_lsp.backends.base import SampleRequest


def sample_on_device(logits: torch.Tensor, request: SampleRequest) -> torch.Tensor:
    """The chosen token id as a 0-d long tensor on ``logits``' device (``.item()`` is the one host sync).

    logits: [vocab]; they are not modified."""
    x = logits.float()
    if request.banned:
        banned = torch.tensor(sorted(request.banned), dtype=torch.long, device=logits.device)
        x = x.index_fill(0, banned, float("-inf"))
    if request.temperature <= 0.0:
        return torch.argmax(x)
    k = min(request.top_k, x.shape[0])
    top, index = torch.topk(x, k)  # sorted, highest first
    scaled = top.double() / request.temperature
    probs = torch.exp(scaled - scaled[0])
    probs = probs / probs.sum()
    keep = torch.searchsorted(torch.cumsum(probs, 0), torch.tensor([request.top_p], dtype=probs.dtype, device=x.device))
    kept = torch.arange(k, device=x.device) <= keep  # the smallest head whose mass reaches top_p
    probs = torch.where(kept, probs, torch.zeros_like(probs))
    probs = probs / probs.sum()
    cdf = torch.cumsum(probs, 0)
    cdf = cdf / cdf[keep.clamp(max=k - 1)]
    draw = torch.tensor([request.draw], dtype=cdf.dtype, device=x.device)
    choice = torch.searchsorted(cdf, draw, right=True).clamp(max=k - 1)
    choice = torch.minimum(choice, keep.clamp(max=k - 1))
    return index[choice][0]
