"""Hugging Face folders through transformers + torch: the runtime for NVIDIA GPUs (correct, and slow, on a CPU).

Models our own decoder covers run it over a static KV cache (``torch_static``). On CUDA its forward replays from
CUDA graphs, and the next token is chosen on the GPU (``sample``), so one token id per step crosses to the host.
Other models run the transformers forward with a dynamic cache (``torch_hf``); so does a model whose logits on a
short probe disagree with the transformers forward (a transformers release that changed a model's math).
fp32 on CPU; bf16 (or fp16 where bf16 is missing) on CUDA.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from a local folder, never from a hub

import numpy as np
import numpy.typing as npt
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from smallcoder_lsp.backends.base import ModelInfo, ModelSpec, SampleRequest, SavedState
from smallcoder_lsp.backends.hf_tokens import TokenBytes, hf_model_info, hf_tokenize
from smallcoder_lsp.backends.torch_decoder import unsupported_reason
from smallcoder_lsp.backends.torch_hf import HFRunner
from smallcoder_lsp.backends.torch_sampling import sample_on_device
from smallcoder_lsp.backends.torch_static import StaticRunner
from smallcoder_lsp.errors import DeviceMemoryError, ModelLoadError

log = logging.getLogger(__name__)

PROBE_TEXT = "def add(a, b):\n    return a + b\n\n\nclass Stack:\n"
# How far the two forwards may drift, relative to the largest logit: op order only (fp32), or rounding (16-bit;
# on the embedded model, bf16 itself is about 2% from fp32). A wrong forward is off by whole logits.
PROBE_TOLERANCE = {torch.float32: 1e-3, torch.bfloat16: 6e-2, torch.float16: 2e-2}


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc))


def pick_device() -> tuple[torch.device, torch.dtype]:
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.device("cpu"), torch.float32


def logits_agree(ours: torch.Tensor, reference: torch.Tensor, dtype: torch.dtype) -> bool:
    # ours, reference: [vocab]
    # No top-1 test: in 16 bits a near tie may flip, and that is no reason to give up the fast path.
    a, b = ours.float(), reference.float()
    return float((a - b).abs().max()) <= PROBE_TOLERANCE[dtype] * max(1.0, float(b.abs().max()))


Runner = StaticRunner | HFRunner


class TorchBackend:
    def __init__(
        self, spec: ModelSpec, *, static: bool = True, graphs: bool | None = None, compile: bool | None = None
    ) -> None:
        """``static``: our decoder where it can run the model; ``graphs``, ``compile``: CUDA graphs and
        ``torch.compile`` of its forward (default: on CUDA; compiling also needs triton)."""
        self.device, self.dtype = pick_device()
        if spec.threads and self.device.type == "cpu":
            torch.set_num_threads(spec.threads)
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(spec.path, local_files_only=True)
            model: Any = AutoModelForCausalLM.from_pretrained(spec.path, dtype=self.dtype, local_files_only=True)
            model = model.to(self.device).eval()
            vocab = int(model.get_output_embeddings().weight.shape[0])
            self.info: ModelInfo = hf_model_info(self._tokenizer, model.config, spec.path, spec.context_length, vocab)
            self._bytes = TokenBytes(self._tokenizer)
            on_cuda = self.device.type == "cuda"
            graphs = on_cuda if graphs is None else graphs
            compile = on_cuda and importlib.util.find_spec("triton") is not None if compile is None else compile
            self.runner: Runner = self._runner(model, static, graphs, compile)
        except Exception as exc:
            if is_out_of_memory(exc):
                raise DeviceMemoryError(f"out of memory loading {spec.path} on {self.device}: {exc}") from exc
            raise ModelLoadError(f"transformers could not load {spec.path}: {exc}") from exc
        self._logits = torch.zeros(vocab, dtype=self.dtype, device=self.device)

    def _runner(self, model: Any, static: bool, graphs: bool, compile: bool) -> Runner:
        reason = unsupported_reason(model.config) if static else "the static path is off"
        if reason is None:
            try:
                runner = StaticRunner(model, self.info.context_length, graphs=graphs)
            except Exception as exc:
                if is_out_of_memory(exc):
                    raise
                reason = f"our decoder could not take its weights ({type(exc).__name__}: {exc})"
            else:
                if self._agrees(model, runner):
                    if compile:
                        runner.start_compiling()
                    return runner  # the transformers model is dropped: our decoder holds the weights it needs
                runner.close()
                reason = "our decoder's logits disagree with the transformers forward on a probe"
        log.warning("torch: %s; running the transformers forward (slower)", reason)
        return HFRunner(model)

    def _agrees(self, model: Any, runner: StaticRunner) -> bool:
        probe = self.tokenize(PROBE_TEXT, add_bos=True)
        ours = runner.evaluate(probe).clone()
        runner.trim(0)
        with torch.inference_mode():
            ids = torch.tensor([probe], dtype=torch.long, device=self.device)
            reference = model(input_ids=ids, logits_to_keep=1).logits[0, -1]
        return logits_agree(ours, reference, self.dtype)

    @property
    def mode(self) -> str:
        """How this backend runs, in words (device, dtype, path, graphs)."""
        return f"{self.device.type} {str(self.dtype).removeprefix('torch.')}, {self.runner.mode}"

    def wait_for_compile(self, timeout: float | None = None) -> bool:
        """Block until the background ``torch.compile`` has ended (benchmarks); True when none is running."""
        compiler = getattr(self.runner, "compiler", None)
        return compiler is None or compiler.wait(timeout)

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        return hf_tokenize(self._tokenizer, text, add_bos)

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        return self._bytes.join(tokens)

    @property
    def n_cached(self) -> int:
        return self.runner.n

    def trim(self, n_keep: int) -> None:
        self.runner.trim(n_keep)

    def evaluate(self, tokens: Sequence[int]) -> None:
        # tokens: [T] -> logits of the last one stay on the device: [vocab]
        if not tokens:
            raise ValueError("nothing to evaluate")
        if self.runner.n + len(tokens) > self.info.context_length:
            raise RuntimeError("the KV cache is full")
        before = self.runner.n
        try:
            self._logits = self.runner.evaluate(tokens)
        except Exception as exc:
            self.runner.trim(before)  # a chunk or a layer may have been written before the failure
            if is_out_of_memory(exc):
                raise DeviceMemoryError(f"out of memory on {self.device} evaluating {len(tokens)} tokens") from exc
            raise

    def score(self, tokens: Sequence[int]) -> list[float]:
        # tokens: [T] -> log p(token_i | everything before it): [T], from one evaluation and one host copy
        if not tokens:
            return []
        if self.runner.n + len(tokens) > self.info.context_length:
            raise RuntimeError("the KV cache is full")
        before = self.runner.n
        try:
            rows = self.runner.evaluate_rows(tokens)
        except Exception as exc:
            self.runner.trim(before)
            if is_out_of_memory(exc):
                raise DeviceMemoryError(f"out of memory on {self.device} scoring {len(tokens)} tokens") from exc
            raise
        predicting = torch.cat([self._logits[None], rows[:-1]]).float()  # the logits that predict each token
        ids = torch.tensor(list(tokens), dtype=torch.long, device=predicting.device)
        picked = torch.log_softmax(predicting, dim=-1).gather(1, ids[:, None])[:, 0]
        self._logits = rows[-1]
        return [float(x) for x in picked.tolist()]

    def logits(self) -> npt.NDArray[np.float32]:
        return self._logits.to("cpu", torch.float32, copy=True).numpy()

    def sample(self, request: SampleRequest) -> tuple[int, float]:
        token = sample_on_device(self._logits, request)
        logprob = torch.log_softmax(self._logits.float(), dim=-1)[token]
        picked = torch.stack([token.double(), logprob.double()]).tolist()  # the one host sync
        return int(picked[0]), float(picked[1])

    def save_state(self) -> SavedState:
        return self.runner.save()

    def load_state(self, state: SavedState) -> None:
        self.runner.load(state)

    def close(self) -> None:
        self.runner.close()
        del self.runner
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def load(spec: ModelSpec) -> TorchBackend:
    return TorchBackend(spec)
