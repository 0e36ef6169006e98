"""``model = auto``: the best installed rung whose measured rates meet the pause target, else the fastest."""

from __future__ import annotations

from smallcoder_lsp.config import Config
from smallcoder_lsp.models.auto import PAUSE_TARGET_MS, choose_rung, pause_ms, resolve_model
from smallcoder_lsp.models.selftest import SelfTest

FAST_TINY = SelfTest("llama_cpp", decode_tok_s=95.0, tokens=64, prefill_tok_s=500.0)
SLOW_SMALL = SelfTest("llama_cpp", decode_tok_s=20.0, tokens=40, prefill_tok_s=60.0)
FAST_SMALL = SelfTest("llama_cpp", decode_tok_s=120.0, tokens=64, prefill_tok_s=900.0)
SLOW_MEDIUM = SelfTest("llama_cpp", decode_tok_s=14.0, tokens=28, prefill_tok_s=40.0)


def test_the_best_rung_that_meets_the_pause_target_is_chosen():
    choice = choose_rung({"tiny": FAST_TINY, "small": FAST_SMALL, "medium": SLOW_MEDIUM}, ["tiny", "small", "medium"])
    assert choice.rung == "small"
    assert "medium too slow here" in choice.reason and "decodes 120 tok/s" in choice.reason


def test_a_slow_machine_keeps_tiny_and_says_why():
    choice = choose_rung({"tiny": FAST_TINY, "small": SLOW_SMALL}, ["tiny", "small"])
    assert choice.rung == "tiny"
    assert "small too slow here" in choice.reason
    assert "medium not installed (pip install 'smallcoder-lsp[medium]')" in choice.reason


def test_where_no_rung_meets_the_target_the_fastest_is_chosen():
    choice = choose_rung({"tiny": SLOW_SMALL, "small": SLOW_MEDIUM}, ["tiny", "small"])
    assert choice.rung == "tiny"
    assert "no rung meets" in choice.reason


def test_a_failed_self_test_never_qualifies_a_rung():
    failed = SelfTest("llama_cpp", error="ModelLoadError: corrupt")
    choice = choose_rung({"tiny": FAST_TINY, "small": failed}, ["tiny", "small"])
    assert choice.rung == "tiny" and "self-test failed" in choice.reason
    assert pause_ms(failed) is None


def test_the_prediction_grows_with_slower_rates():
    fast, slow = pause_ms(FAST_SMALL), pause_ms(SLOW_SMALL)
    assert fast is not None and slow is not None and fast < PAUSE_TARGET_MS < slow


def test_a_model_that_is_set_is_left_alone(monkeypatch):
    from smallcoder_lsp.models import auto

    monkeypatch.setattr(auto.loading, "measure", lambda backend, config, profile: FAST_SMALL)
    config = Config(model="small")
    assert resolve_model(config, "llama_cpp")[:2] == (config, "")
    assert resolve_model(Config(), "remote") == (Config(), "", None)


def test_the_budget_starts_from_the_loaded_models_own_self_test_run_once_if_need_be(monkeypatch):
    from smallcoder_lsp.models import auto

    seen = []

    def measure(backend, config, profile):
        seen.append((backend, config.model, config.context_length))
        return FAST_SMALL if config.model == "small" else SelfTest(backend, error="medium is not installed")

    monkeypatch.setattr(auto.loading, "measure", measure)
    assert resolve_model(Config(model="small", context_length=512), "llama_cpp")[2] is FAST_SMALL
    assert seen == [("llama_cpp", "small", Config().context_length)]  # the key auto measures it under
    assert resolve_model(Config(model="medium"), "llama_cpp")[2] is None
    chosen = auto.RungChoice("small", "why", FAST_SMALL)
    monkeypatch.setattr(auto, "resolve_rung", lambda config, backend: chosen)
    assert resolve_model(Config(), "llama_cpp") == (Config(model="small"), "model = auto: why", FAST_SMALL)
    assert len(seen) == 2  # auto: the chosen rung's own self-test, not another one
    assert auto.usable(SelfTest("llama_cpp", decode_tok_s=40.0, tokens=64)) is None  # no prefill timed


def test_on_mlx_and_torch_only_the_rungs_already_converted_are_measured(monkeypatch, tmp_path):
    from smallcoder_lsp.models import auto

    (tmp_path / "small").mkdir()
    monkeypatch.setattr(auto.ladder, "installed_rungs", lambda: ["tiny", "small", "medium"])
    monkeypatch.setattr(auto, "resolve_model_path", lambda rung: tmp_path / f"{rung}.gguf")
    monkeypatch.setattr(auto, "converted_dir", lambda gguf: tmp_path / gguf.stem)
    assert auto.measurable("torch") == auto.measurable("mlx") == ["tiny", "small"]
    assert auto.measurable("llama_cpp") == ["tiny", "small", "medium"]
    choice = choose_rung({"tiny": FAST_TINY, "small": SLOW_SMALL}, ["tiny", "small", "medium"])
    assert "medium not measured (mlx and torch measure the rungs converted for them" in choice.reason
