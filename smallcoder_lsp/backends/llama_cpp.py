"""GGUF models through llama-cpp-python: the default runtime on CPU machines.

One llama.cpp context holds one KV sequence. ``trim`` removes cached positions past a prefix, so the decode
session can reuse everything a new prompt shares with the last one. The SWA cache is kept full-size so that
trimming is exact on sliding-window models such as Gemma 3.

On a CPU with Intel AMX (Sapphire Rapids and later), llama.cpp built for the machine repacks the weights for
AMX, and that path crashes the process in the first evaluation on the machines we run on (a segfault in
``llama_decode``; llama.cpp issue 20824, and the same crash in Ollama's Sapphire Rapids backend). The model is
loaded without llama.cpp's extra buffer types there: the plain CPU path prefills the embedded model at about
650 tokens/s on 2 cores of such a machine.

With ``threads`` 0 the thread count follows the cores that other programs leave free
(:mod:`~smallcoder_lsp.backends.free_cores`), measured again before evaluations: llama.cpp's threads wait for
each other, so one thread on a core that a build keeps busy stalls them all.

An evaluation can be interrupted from another thread (:class:`~smallcoder_lsp.backends.base.Interruptible`)
through llama.cpp's abort callback, which it checks after every node of the compute graph: see :class:`StopFlag`.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from smallcoder_lsp.backends.base import NAMED_SPECIALS, ModelInfo, ModelSpec, SavedState
from smallcoder_lsp.backends.free_cores import FreeCores
from smallcoder_lsp.errors import Cancelled, ModelLoadError

log = logging.getLogger(__name__)
native_log = logging.getLogger(__name__ + ".native")
"""llama.cpp's own messages (after the model has loaded: while it loads they are silenced)."""


@contextlib.contextmanager
def silenced_native_output() -> Iterator[None]:
    """Point fds 1 and 2 at /dev/null while native code loads: stdout belongs to JSON-RPC."""
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def cpu_has_amx(cpuinfo: str = "/proc/cpuinfo") -> bool:
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return "amx_int8" in line.split()
    except OSError:
        pass
    return False


@contextlib.contextmanager
def without_extra_buffer_types(llama_cpp_lib: object) -> Iterator[None]:
    """Models loaded inside get ``use_extra_bufts = False`` (no weight repacking, so no AMX buffers).
    llama-cpp-python has no argument for it: its default model parameters are wrapped while the model loads."""
    module = llama_cpp_lib.llama_cpp  # type: ignore[attr-defined]
    defaults = module.llama_model_default_params

    def plain() -> object:
        params = defaults()
        params.use_extra_bufts = False
        return params

    module.llama_model_default_params = plain
    try:
        yield
    finally:
        module.llama_model_default_params = defaults


NATIVE_LEVELS = {2: logging.WARNING, 3: logging.ERROR}
"""ggml's log levels that are more than debug output (1 info, 4 debug, 5 the rest of the last message)."""
INTERRUPTED_MESSAGE = b"removing memory module entries"
"""What llama.cpp logs, as an error, when it drops the cells of an interrupted evaluation: expected here."""
_native_log_callback: object = None


def route_native_logs(llama_cpp_module: object) -> None:
    """Send llama.cpp's log messages to :data:`native_log` instead of raw lines on stderr (once per process)."""
    global _native_log_callback
    if _native_log_callback is not None:
        return

    def log_line(level: int, text: bytes | None, user_data: object) -> None:
        raw = text or b""
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            expected = INTERRUPTED_MESSAGE in raw
            native_log.log(logging.DEBUG if expected else NATIVE_LEVELS.get(level, logging.DEBUG), "%s", line)

    _native_log_callback = llama_cpp_module.llama_log_callback(log_line)  # type: ignore[attr-defined]
    llama_cpp_module.llama_log_set(_native_log_callback, ctypes.c_void_p(0))  # type: ignore[attr-defined]


def quantize_file(source: str, target: str, file_type: str, embedding_type: int, threads: int) -> None:
    """Write the GGUF ``source`` to ``target`` with its matrices in llama.cpp's ``file_type`` (a ``LLAMA_FTYPE_*``
    name) and its token embedding in ggml type ``embedding_type``, requantizing what is quantized already.
    Raises ValueError if llama.cpp cannot (a corrupt or cut-off source)."""
    import llama_cpp

    route_native_logs(llama_cpp.llama_cpp)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, file_type)
    params.token_embedding_type = embedding_type
    params.allow_requantize = True
    params.nthread = threads
    level = native_log.level
    native_log.setLevel(logging.CRITICAL)  # its warnings (k-quants that fall back) are expected, and not the user's
    try:
        with silenced_native_output():  # it prints a line per tensor, and stdout belongs to JSON-RPC
            code = llama_cpp.llama_model_quantize(source.encode(), target.encode(), ctypes.byref(params))
    finally:
        native_log.setLevel(level)
    if code != 0:
        raise ValueError(f"llama.cpp's quantizer failed on it (code {code})")


DECODE_ABORTED = 2
"""``llama_decode``'s return code when the abort callback stopped it (it has removed the batch's cells)."""


def c_strlen_address() -> int | None:
    """The address of the C library's ``strlen``, or None where it cannot be found."""
    try:
        libc = ctypes.cdll.msvcrt if os.name == "nt" else ctypes.CDLL(None)
        return ctypes.cast(libc.strlen, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return None


class StopFlag:
    """A flag that llama.cpp's abort callback reads without Python.

    The callback is called on a compute thread after every graph node. A Python callback would have to take the
    GIL there, hundreds of times per evaluation, and wait for it whenever the event loop runs Python. So the
    callback is the C library's ``strlen`` and its data a two-byte buffer: it returns 0 (go on) while the first
    byte is NUL and 1 (stop) once it is set; a bool result is the low byte of the return register on the ABIs
    llama.cpp runs on. Where ``strlen`` cannot be found, ``set`` does nothing.
    """

    def __init__(self, llama_cpp_module: object, ctx: object) -> None:
        self._buffer = ctypes.create_string_buffer(2)
        address = c_strlen_address()
        if address is not None:
            callback_type = llama_cpp_module.ggml_abort_callback  # type: ignore[attr-defined]
            self._callback = callback_type(address)  # kept: llama.cpp holds only the pointer
            data = ctypes.cast(self._buffer, ctypes.c_void_p)
            llama_cpp_module.llama_set_abort_callback(ctx, self._callback, data)  # type: ignore[attr-defined]

    def set(self) -> None:
        self._buffer[0] = b"\x01"

    def clear(self) -> None:
        self._buffer[0] = b"\x00"


SERVER_LAUNCH = """
import contextlib, runpy, llama_cpp
from smallcoder_lsp.backends.llama_cpp import cpu_has_amx, without_extra_buffer_types
with without_extra_buffer_types(llama_cpp) if cpu_has_amx() else contextlib.nullcontext():
    runpy.run_module("llama_cpp.server", run_name="__main__")
"""
"""A ``python -c`` program that runs llama-cpp-python's OpenAI-compatible server (its arguments follow), loading
the model as this backend does: on a CPU with AMX, without extra buffer types. For the remote backend's tests and
the bench's peer comparison."""


class LlamaCppBackend:
    def __init__(self, spec: ModelSpec) -> None:
        import llama_cpp

        self._lib = llama_cpp
        route_native_logs(llama_cpp.llama_cpp)
        self._free = None if spec.threads else FreeCores()
        self._threads = self._free.count if self._free else spec.threads
        plain = without_extra_buffer_types(llama_cpp) if cpu_has_amx() else contextlib.nullcontext()
        try:
            with silenced_native_output(), plain:
                self._llm = llama_cpp.Llama(
                    model_path=spec.path,
                    n_ctx=spec.context_length,
                    n_batch=512,
                    n_threads=self._threads,
                    n_threads_batch=self._threads,
                    swa_full=True,
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not load {spec.path}: {exc}") from exc
        self._stop = StopFlag(llama_cpp.llama_cpp, self._llm._ctx.ctx)
        self._row = -1
        """The batch position whose logits ``logits()`` returns (see ``evaluate_ahead``)."""
        self._last_row = -1
        self._vocab = self._llm._model.vocab
        self._n_vocab = self._llm.n_vocab()
        specials = self._find_specials()
        eos = {self._llm.token_eos()} | {t for t in specials.values() if self._lib.llama_vocab_is_eog(self._vocab, t)}
        # A vocabulary that adds no BOS (Qwen2.5) still names one; tokenize(add_bos=True) adds none there.
        bos = self._llm.token_bos() if self._lib.llama_vocab_get_add_bos(self._vocab) else -1
        self.info = ModelInfo(
            name=str(self._llm.metadata.get("general.name", os.path.basename(spec.path))),
            path=spec.path,
            context_length=self._llm.n_ctx(),
            vocab_size=self._n_vocab,
            bos_id=bos if bos >= 0 else None,
            eos_ids=frozenset(t for t in eos if t >= 0),
            special_tokens=specials,
            chat_template=self._chat_template(),
        )

    def _find_specials(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for text in NAMED_SPECIALS:
            ids = self._llm.tokenize(text.encode(), add_bos=False, special=True)
            if len(ids) == 1 and self._lib.llama_vocab_is_control(self._vocab, ids[0]):
                found[text] = ids[0]
            elif len(ids) == 1 and not self._llm.detokenize(ids, special=False):
                found[text] = ids[0]  # user-defined special tokens render as nothing without special=True
        return found

    def _chat_template(self) -> str:
        """The file's chat template where the model was tuned to it: its end-of-sequence token ends a turn there
        (Qwen2.5 instruct files end with ``<|im_end|>``; the base files carry the same template but end with
        ``<|endoftext|>``)."""
        template = str(self._llm.metadata.get("tokenizer.chat_template", ""))
        eos = self._llm.token_eos()
        end = self._llm.detokenize([eos], special=True).decode("utf-8", "ignore") if eos >= 0 else ""
        return template if end.strip() and end in template else ""

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        ids = self._llm.tokenize(text.encode("utf-8", "surrogatepass"), add_bos=add_bos, special=True)
        return list(ids)

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        return bytes(self._llm.detokenize(list(tokens), special=False))

    @property
    def n_cached(self) -> int:
        return int(self._llm.n_tokens)

    def trim(self, n_keep: int) -> None:
        if n_keep < self._llm.n_tokens:
            self._llm._ctx.kv_cache_seq_rm(-1, n_keep, -1)
            self._llm.n_tokens = n_keep
        self._row = -1

    @property
    def threads(self) -> int:
        """The threads the last evaluation ran on."""
        return self._threads

    def _fit_threads(self) -> None:
        """With ``threads`` 0: run the next evaluation on the cores that other programs leave free."""
        if self._free is None:
            return
        wanted = self._free()
        if wanted != self._threads:
            log.debug("%d threads (other programs use %.1f cores)", wanted, self._free.others)
            self._lib.llama_set_n_threads(self._llm._ctx.ctx, wanted, wanted)
            self._threads = wanted

    def interrupt(self) -> None:
        self._stop.set()

    def _decode(self, tokens: Sequence[int], logits_all: bool) -> None:
        """Append ``tokens`` (at most a batch) to the cache; raises Cancelled when ``interrupt`` stopped it."""
        n_past, n = self._llm.n_tokens, len(tokens)
        self._llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
        self._llm._batch.set_batch(batch=list(tokens), n_past=n_past, logits_all=logits_all)
        self._stop.clear()  # an interrupt that came after the last evaluation was not meant for this one
        code = self._lib.llama_decode(self._llm._ctx.ctx, self._llm._batch.batch)
        if code == DECODE_ABORTED:
            self._llm._ctx.kv_cache_seq_rm(-1, n_past, -1)  # llama.cpp has done it; the cache must not differ
            raise Cancelled("the evaluation was interrupted")
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code}")
        self._llm.input_ids[n_past : n_past + n] = tokens
        self._llm.n_tokens += n

    def evaluate(self, tokens: Sequence[int]) -> None:
        if self._llm.n_tokens + len(tokens) > self.info.context_length:
            raise RuntimeError("the KV cache is full")
        self._fit_threads()
        self._row = -1
        n_before = self._llm.n_tokens
        try:
            for i in range(0, len(tokens), self._llm.n_batch):
                self._decode(tokens[i : i + self._llm.n_batch], logits_all=False)
        except Cancelled:
            self.trim(n_before)  # the batches before the interrupted one go too: all or nothing
            raise

    def evaluate_ahead(self, tokens: Sequence[int]) -> None:
        # One batch with logits at every position (llama-cpp-python's eval keeps only the last).
        n_past, n = self._llm.n_tokens, len(tokens)
        if n_past + n > self.info.context_length or n > self._llm.n_batch:
            raise RuntimeError("cannot evaluate that many tokens ahead here")
        self._fit_threads()
        self._row = -1
        self._decode(tokens, logits_all=True)
        self._row, self._last_row = 0, n - 1

    def step_ahead(self) -> None:
        if not 0 <= self._row < self._last_row:
            raise RuntimeError("no evaluated token ahead")
        self._row += 1

    def _logits_at(self, i: int) -> npt.NDArray[np.float32]:
        """A view (not a copy) of the logits of batch position ``i`` of the last evaluation."""
        ptr = self._llm._ctx.get_logits_ith(i)
        return np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(self._n_vocab,))

    def logits(self) -> npt.NDArray[np.float32]:
        return self._logits_at(self._row).copy()

    def score(self, tokens: Sequence[int]) -> list[float]:
        scores = [_log_prob(self._logits_at(self._row), tokens[0])]
        self.evaluate_ahead(tokens)
        scores += [_log_prob(self._logits_at(i), tokens[i + 1]) for i in range(len(tokens) - 1)]
        self._row = -1
        return scores

    def save_state(self) -> SavedState:
        # The low-level sequence calls copy the KV cells into our buffer in milliseconds; the high-level
        # Llama.save_state() takes seconds for the same state (DESIGN.md).
        ctx = self._llm._ctx.ctx
        size = self._lib.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = self._lib.llama_state_seq_get_data(ctx, buffer, size, 0)
        if written == 0 and self.n_cached:
            raise RuntimeError("llama.cpp could not save the KV state")
        return SavedState(self.n_cached, int(written), (buffer, int(written)))

    def load_state(self, state: SavedState) -> None:
        buffer, size = state.payload
        self.trim(0)
        if state.n_tokens and self._lib.llama_state_seq_set_data(self._llm._ctx.ctx, buffer, size, 0) == 0:
            raise RuntimeError("llama.cpp could not restore the KV state")
        self._llm.n_tokens = state.n_tokens

    def close(self) -> None:
        self._llm.close()


def _log_prob(logits: npt.NDArray[np.float32], token: int) -> float:
    # the same sum as decode.sampling.log_prob (a backend does not import the decode layer)
    top = logits.max()
    return float(logits[token] - top) - float(np.log(np.exp(logits - top).sum(dtype=np.float64)))


def load(spec: ModelSpec) -> LlamaCppBackend:
    return LlamaCppBackend(spec)
