"""``model = auto``: the rung of the ladder for this machine, chosen by measurement.

Quality comes from the bench: on its line cuts of code the models have not memorized, and on the typing replay,
the rungs rank ``QUALITY_ORDER`` (``bench/results/``). Speed comes from each installed rung's self-test on this
machine and backend (remembered per machine, as the backend's is: :mod:`.rates`). A rung can serve typing when its
rates meet the typing replay's pause targets: a typical pause shows a line within ``PAUSE_TARGET_MS`` (the typed
keys evaluated, the line decoded), and a slow one (a new line's tail to evaluate, a whole line to decode) within
``SLOW_PAUSE_TARGET_MS``. ``auto`` takes the best rung that can; where none can, the fastest.

The token counts are fitted to the replays of ``bench/results/epyc-2026-12-07/`` (2-core AMD EPYC, quiet): tiny at
97 tok/s decode and 485 tok/s prefill, predicted 111 / 361 ms, measured p50 39-55 and p90 310-315 ms (82 / 389 with
no rest before the first key); small at 42 and 167, predicted 262 / 956 ms, measured p50 226-294 ms and a p90 past
the 1 s pause (84-89% of pauses shown). By them small meets both targets from about 67 tok/s decode and 270 tok/s
prefill.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from smallcoder_lsp.backends import HF_BACKENDS, LOCAL_BACKENDS
from smallcoder_lsp.config import Config
from smallcoder_lsp.models import hardware, ladder, loading
from smallcoder_lsp.models.convert import converted_dir
from smallcoder_lsp.models.files import resolve_model_path
from smallcoder_lsp.models.selftest import SelfTest

log = logging.getLogger(__name__)

QUALITY_ORDER = ("medium", "small", "tiny")
"""Best first, by the bench's line cuts and typing replay on this project's held-out code (bench/results/)."""
PAUSE_TARGET_MS = 250.0
"""A suggestion should show this soon after the user pauses (the typing replay's p50 target)."""
SLOW_PAUSE_TARGET_MS = 600.0
"""Nine pauses in ten should show one this soon (the replay's p90 target)."""
KEY_TOKENS = 4.0
"""Tokens a keystroke's request evaluates before its first line: the typed key and the word healing backs up."""
LINE_TOKENS = 10.0
"""Decode steps to a typical pause's line: the median line, less what prompt-lookup drafts save."""
SLOW_KEY_TOKENS = 100.0
"""Tokens a slow pause evaluates first: a new line's tail the prefetch did not cover, a block's lines."""
SLOW_LINE_TOKENS = 15.0
"""Decode steps to a slow pause's line: a long line."""


TARGETS = f"targets {PAUSE_TARGET_MS:.0f} and {SLOW_PAUSE_TARGET_MS:.0f} ms"


@dataclass(frozen=True)
class RungChoice:
    rung: str
    reason: str
    """The chosen rung's rates and the targets, and why each better rung was passed over."""
    rates: SelfTest | None = None
    """The chosen rung's self-test."""


def pause_ms(test: SelfTest, slow: bool = False) -> float | None:
    """How long after a typical (or a ``slow``) pause a line would show with this rung's rates (None: the
    self-test failed)."""
    if not test.ok or test.decode_tok_s <= 0 or test.prefill_tok_s <= 0:
        return None
    key, line = (SLOW_KEY_TOKENS, SLOW_LINE_TOKENS) if slow else (KEY_TOKENS, LINE_TOKENS)
    return 1000 * (key / test.prefill_tok_s + line / test.decode_tok_s)


def meets_targets(test: SelfTest) -> bool:
    typical, slow = pause_ms(test), pause_ms(test, slow=True)
    return typical is not None and slow is not None and typical <= PAUSE_TARGET_MS and slow <= SLOW_PAUSE_TARGET_MS


def rates_words(test: SelfTest) -> str:
    if not test.ok:
        return f"self-test failed ({test.error})"
    predicted = pause_ms(test)
    if predicted is None:  # remembered by a version that did not time the prefill
        return f"decodes {test.decode_tok_s:.0f} tok/s"
    return (
        f"decodes {test.decode_tok_s:.0f} tok/s, prefills {test.prefill_tok_s:.0f} tok/s: a line ~{predicted:.0f} ms"
        f" after a pause, ~{pause_ms(test, slow=True):.0f} ms after a slow one"
    )


def choose_rung(tests: Mapping[str, SelfTest], installed: Sequence[str]) -> RungChoice:
    """The best installed rung (``QUALITY_ORDER``) whose measured rates meet the pause targets; else the fastest
    that ran; else tiny. Pure: ``tests`` holds the self-tests of the ``installed`` rungs."""
    ranked = [r for r in QUALITY_ORDER if r in installed]
    missing = [r for r in QUALITY_ORDER if r not in installed]
    skipped: list[str] = []
    for rung in ranked:
        test = tests.get(rung)
        if test is not None and meets_targets(test):
            why = f"{rung}: {rates_words(test)} ({TARGETS})"
            return RungChoice(rung, "; ".join([why, *skipped, *not_installed(missing)]), test)
        skipped.append(passed_over(rung, test))
    timed = {r: ms for r in ranked if r in tests and (ms := pause_ms(tests[r])) is not None}
    fastest = min(timed, key=timed.__getitem__, default="tiny")
    chosen = f" ({rates_words(tests[fastest])})" if fastest in tests else ""
    why = f"{fastest}: no rung meets the pause targets here ({TARGETS}), so the fastest{chosen}"
    others = [words for rung, words in zip(ranked, skipped, strict=True) if rung != fastest]
    return RungChoice(fastest, "; ".join([why, *others, *not_installed(missing)]), tests.get(fastest))


def passed_over(rung: str, test: SelfTest | None) -> str:
    """Why ``rung`` was not chosen: its self-test failed, it is too slow here, or it was not measured."""
    if test is None:
        converted = f"mlx and torch measure the rungs converted for them: smallcoder-lsp convert {rung}"
        return f"{rung} not measured ({converted})"
    return f"{rung}: {rates_words(test)}" if not test.ok else f"{rung} too slow here ({rates_words(test)})"


def not_installed(rungs: Sequence[str]) -> list[str]:
    return [f"{r} not installed ({ladder.RUNGS[r].install})" for r in rungs if r in ladder.RUNGS]


def rung_self_tests(
    config: Config, backend: str, profile: hardware.Profile, *, run: bool = True, again: bool = False
) -> dict[str, SelfTest]:
    """Each installed rung's self-test with ``backend`` here: remembered, or (``run``) measured now when it is not
    (``again``: always), and remembered per machine."""
    configs = {r: measured_as(config, r) for r in measurable(backend)}
    if not run:
        return {r: test for r, c in configs.items() if (test := loading.remembered(backend, c, profile)) is not None}
    unmeasured = [r for r, c in configs.items() if again or loading.remembered(backend, c, profile) is None]
    if unmeasured:
        log.warning("model = auto: measuring %s once on this machine (a few seconds each)", ", ".join(unmeasured))
    return {r: loading.measure(backend, c, profile, again=again) for r, c in configs.items()}


def measurable(backend: str) -> list[str]:
    """The installed rungs a self-test with ``backend`` may load: on mlx and torch only those already converted
    (and tiny): measuring a rung there would convert it first, minutes and gigabytes the user did not ask for."""
    installed = ladder.installed_rungs()
    if backend not in HF_BACKENDS:
        return installed
    return [r for r in installed if r == "tiny" or converted_dir(resolve_model_path(r)).exists()]


def resolve_rung(config: Config, backend: str) -> RungChoice:
    """The rung ``auto`` picks for ``backend`` on this machine (see :func:`choose_rung`)."""
    tests = rung_self_tests(config, backend, hardware.detect())
    return choose_rung(tests, ladder.installed_rungs())


def resolve_model(config: Config, backend: str) -> tuple[Config, str, SelfTest | None]:
    """``config`` with ``model = auto`` replaced by the rung :func:`resolve_rung` picks, and why; any other
    setting (and a backend that loads no local file) as it is, with no reason. Also the self-test of the model it
    names, where there is one: the prompt budget starts from its prefill rate rather than from another model's."""
    if backend not in LOCAL_BACKENDS:
        return config, "", None
    if not config.auto_model:
        return config, "", usable(self_test(config, backend))
    choice = resolve_rung(config, backend)
    return replace(config, model=choice.rung), f"model = auto: {choice.reason}", usable(choice.rates)


def self_test(config: Config, backend: str) -> SelfTest:
    """The self-test of the model ``config`` names (a rung or a file) with ``backend`` here: remembered, or run
    now, once per machine, so that a model the user chose gets its prompt window fitted to this machine as the
    one ``auto`` chooses does (see :mod:`smallcoder_lsp.completion.budget`)."""
    measured, profile = measured_as(config, config.model), hardware.detect()
    if loading.remembered(backend, measured, profile) is None:
        log.warning("measuring %s once on this machine (a few seconds)", ladder.display_name(config.model))
    return loading.measure(backend, measured, profile)


def measured_as(config: Config, model: str) -> Config:
    """The settings ``model``'s self-test is run and remembered under. The context length changes little of the
    rates: the default's are shared by every request's setting."""
    return replace(config, model=model, context_length=Config().context_length)


def usable(test: SelfTest | None) -> SelfTest | None:
    """``test``, if it ran and timed the prefill (an older version's did not)."""
    return test if test is not None and test.ok and test.prefill_tok_s > 0 else None
