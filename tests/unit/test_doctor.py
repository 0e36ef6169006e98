"""``doctor`` shows each backend's measured decode rate, or why its self-test failed; the self-test is bounded
and times one evaluated token per step."""

from __future__ import annotations

from smallcoder_lsp.backends.base import ModelSpec
from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.backends.free_cores import FreeCores
from smallcoder_lsp.config import Config
from smallcoder_lsp.models import hardware
from smallcoder_lsp.models.doctor import report
from smallcoder_lsp.models.selftest import PROMPT, WARMUP_STEPS, SelfTest, run_self_test, time_decode

ALL = {"llama_cpp": True, "mlx": True, "mlx_lm": True, "torch": True, "transformers": True, "safetensors": True}
H100 = ("NVIDIA H100, 81559 MiB",)


def profile(cuda: tuple[str, ...] = (), **missing: bool) -> hardware.Profile:
    return hardware.Profile("Linux 6.1", "x86_64", 2, 16.0, False, False, cuda, {**ALL, **missing}, "AMD EPYC")


def test_doctor_reports_each_backend_and_the_choice():
    text = report(Config(backend="auto", model="/nope.gguf"), profile(mlx=False))
    assert "mlx        unavailable: not installed" in text
    assert "choice: llama_cpp (no Apple Silicon and no CUDA device" in text
    assert "cannot resolve the model" in text
    assert "cpu: AMD EPYC, 2 cores" in text


def test_doctor_shows_each_measured_rate_and_why_a_self_test_failed():
    tests = {
        "llama_cpp": SelfTest("llama_cpp", decode_tok_s=63.4, tokens=64),
        "mlx": SelfTest("mlx", decode_tok_s=4.04, tokens=8),
        "torch": SelfTest("torch", error="ModelLoadError: converting needs the torch extra"),
    }
    lines = report(Config(), profile(), tests).splitlines()
    assert "  llama_cpp  available: 63 tok/s" in lines
    assert (
        "  mlx        available: 4.0 tok/s — CPU build on Linux (no Apple Silicon here); it is for Apple Silicon"
        in lines
    )
    assert any(
        line.startswith("  torch      available: self-test failed (ModelLoadError: converting") for line in lines
    )


def test_doctor_on_a_cuda_machine_explains_the_measured_choice():
    tests = {"llama_cpp": SelfTest("llama_cpp", 65.0, 64), "torch": SelfTest("torch", 31.0, 64)}
    text = report(Config(), profile(cuda=H100), tests)
    assert "  torch      available: 31 tok/s — CUDA device here (NVIDIA H100, 81559 MiB)" in text
    assert "choice: llama_cpp (CUDA device (NVIDIA H100, 81559 MiB) and torch is installed, but torch decodes" in text


def test_each_timed_step_evaluates_one_token_and_goes_on_past_the_end_of_text():
    backend = FakeBackend()  # no replies: it proposes end-of-text at every step
    steps, seconds = time_decode(backend, max_tokens=5, seconds=60.0)
    prompt = len(backend.tokenize(PROMPT, add_bos=True))
    assert steps == 5 and seconds > 0
    assert backend.n_cached == prompt + WARMUP_STEPS - 1 + steps  # the first warm-up token comes from the prefill
    assert backend.evaluate_calls[-steps:] == [1] * steps


def test_the_self_test_stops_at_its_time_bound():
    steps, _ = time_decode(FakeBackend(), max_tokens=10**9, seconds=0.05)
    assert 0 < steps < 10**9


def test_a_self_test_reports_a_rate_or_why_it_failed(tmp_path):
    result = run_self_test("fake", ModelSpec(""), max_tokens=16)
    assert result.ok and result.tokens == 16 and result.decode_tok_s > 0 and not result.error
    failed = run_self_test("fake", ModelSpec(str(tmp_path / "missing.json")))
    assert not failed.ok and "FileNotFoundError" in failed.error
    unknown = run_self_test("tpu", ModelSpec(""))
    assert not unknown.ok and "unknown backend 'tpu'" in unknown.error


def test_doctor_names_the_code_vocabulary_cut_of_the_embedded_model():
    assert "run cut to the code vocabulary: " in report(Config(backend="llama_cpp", model="tiny"), profile())
    assert "code vocabulary" not in report(Config(backend="llama_cpp", model="tiny", code_vocabulary=False), profile())


def test_doctor_says_how_many_threads_llama_cpp_runs_on():
    assert "threads: 3 (set)" in report(Config(backend="llama_cpp", threads=3, model="/nope.gguf"), profile())
    text = report(Config(backend="llama_cpp", model="/nope.gguf"), profile())
    if FreeCores().measured:
        assert "threads: the cores other programs leave free, now " in text
    else:
        assert "(every core: this platform does not tell how busy they are)" in text
    assert "threads:" not in report(Config(backend="torch", model="/nope.gguf"), profile(cuda=H100))


def test_doctor_names_the_rung_auto_picks_and_why_with_each_rungs_rates():
    rungs = {
        "tiny": SelfTest("llama_cpp", decode_tok_s=95.0, tokens=64, prefill_tok_s=520.0),
        "small": SelfTest("llama_cpp", decode_tok_s=21.0, tokens=42, prefill_tok_s=70.0),
    }
    lines = report(Config(backend="llama_cpp"), profile(), rungs=rungs).splitlines()
    assert any(line.startswith("model: auto picks tiny: decodes 95 tok/s, prefills 520 tok/s") for line in lines)
    assert any("small too slow here (decodes 21 tok/s" in line for line in lines)
    assert any(line.startswith(" *tiny") for line in lines)
    assert any(line.startswith("  small") and "prefills 70 tok/s" in line for line in lines)
    unmeasured = report(Config(backend="llama_cpp"), profile())
    assert "model: auto (the rungs are not measured yet" in unmeasured
