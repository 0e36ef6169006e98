"""``smallcoder-lsp doctor``: the hardware profile, each backend's availability and measured decode rate, the
choice, the model and the model ladder."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from smallcoder_lsp.backends import LOCAL_BACKENDS
from smallcoder_lsp.backends.free_cores import MIN_INTERVAL_S, FreeCores
from smallcoder_lsp.config import Config
from smallcoder_lsp.errors import SmallcoderError
from smallcoder_lsp.models import auto, hardware, ladder, loading
from smallcoder_lsp.models.convert import converted_dir
from smallcoder_lsp.models.files import resolve_model_path
from smallcoder_lsp.models.selftest import SelfTest
from smallcoder_lsp.models.vocabulary import code_vocabulary_model


def self_tests(config: Config, profile: hardware.Profile, *, run: bool) -> dict[str, SelfTest]:
    """Each available local backend's self-test: run now (``run``; also remembered for ``auto``), or the
    remembered one. With ``model = auto``, on the smallest rung, as ``auto`` chooses the backend."""
    config = replace(config, model="tiny") if config.auto_model else config
    tests = {}
    for name in LOCAL_BACKENDS:
        if not hardware.availability(profile, name)[0]:
            continue
        test = loading.measure(name, config, profile, again=True) if run else loading.remembered(name, config, profile)
        if test is not None:
            tests[name] = test
    return tests


def rate_words(test: SelfTest) -> str:
    if not test.ok:
        return f"self-test failed ({test.error})"
    rate = test.decode_tok_s
    words = f"{rate:.1f} tok/s" if rate < 10 else f"{rate:.0f} tok/s"
    return words + (f" (self-test of {test.measured_at[:10]})" if test.measured_at else "")


def backend_line(name: str, profile: hardware.Profile, test: SelfTest | None) -> str:
    ok, why = hardware.availability(profile, name)
    if not ok:
        return f"  {name:<10} unavailable: {why}"
    notes = [rate_words(test)] if test is not None else []
    if why != "installed" or not notes:
        notes.append(why)
    return f"  {name:<10} available: {' — '.join(notes)}"


def model_line(config: Config, backend: str) -> str:
    if backend == "remote":
        return f"remote server {config.remote_url or '(remoteUrl is not set)'}"
    try:
        gguf = resolve_model_path(config.model)
    except SmallcoderError as exc:
        return f"cannot resolve the model: {exc}"
    name = ladder.display_name(config.model)
    if backend in ("mlx", "torch"):
        folder = converted_dir(gguf)
        state = "converted" if folder.exists() else "converted on first load"
        return f"{name}: Hugging Face folder {folder} ({state})"
    try:
        runs = loading.llama_cpp_file(config)
    except SmallcoderError as exc:
        return f"{name}: {gguf} ({exc})"
    if runs == gguf:
        return f"{name}: {gguf}"
    cut = code_vocabulary_model(gguf) if config.code_vocabulary else gguf
    forms = ["cut to the code vocabulary"] if cut != gguf else []
    if runs != cut:
        forms.append(f"requantized to {ladder.RUNGS[config.model].cpu_weights}")
    return f"{name}: {gguf}, run {' and '.join(forms)}: {runs}"


def size_words(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def install_words(status: ladder.RungStatus) -> str:
    if not status.installed:
        return f"not installed: {status.rung.install}"
    if status.assembled is None:
        return "installed"
    return "installed, assembled" if status.assembled else "installed, assembled on first use"


def rung_lines(setting: str, rates: Mapping[str, SelfTest] | None = None) -> list[str]:
    """The model ladder: each rung's size, model, licence, and whether it is installed and assembled; ``*`` marks
    the rung the ``model`` setting picks (a rung's name), and the rates in ``rates`` (by rung name) are shown
    beside their rung."""
    lines = ["models (the 'model' setting: a rung's name or a GGUF path)"]
    for name in ladder.RUNGS:
        status = ladder.rung_status(name)
        rung = status.rung
        notes = [rung.model + (", FIM" if rung.fim else ""), rung.licence, install_words(status)]
        if rates and name in rates:
            notes.append(auto.rates_words(rates[name]))
        mark = "*" if name == setting else " "
        lines.append(f" {mark}{name:<7} {size_words(rung.size):>7}  {' — '.join(notes)}")
    return lines


def threads_line(config: Config) -> str:
    if config.threads:
        return f"threads: {config.threads} (set)"
    free = FreeCores()
    limit = f", a CPU limit allows {free.most}" if free.most < len(free.cpus) else ""
    if not free.measured:
        return f"threads: {free.most} (every core{limit}: this platform does not tell how busy they are)"
    time.sleep(MIN_INTERVAL_S)
    count = free()
    return (
        f"threads: the cores other programs leave free, now {count} of {len(free.cpus)}"
        f" (other programs use {free.others:.1f} cores{limit})"
    )


def backend_choice(config: Config, profile: hardware.Profile, tests: Mapping[str, SelfTest]) -> tuple[str, str]:
    """The backend ``auto`` (or the setting) takes here, by the self-tests in ``tests``, and why."""
    contenders = {b: tests[b] for b in hardware.measured_contenders(profile) if b in tests}
    return hardware.choose_backend(config.backend, profile, contenders)


def model_lines(config: Config, backend: str, rungs: Mapping[str, SelfTest] | None) -> tuple[list[str], str]:
    """What the ``model`` setting loads with ``backend``, and the rung it names (``auto``: the one it would pick
    by ``rungs``, the rungs' self-tests)."""
    if not config.auto_model:
        return [f"model: {model_line(config, backend)}"], config.model
    if not rungs:
        return ["model: auto (the rungs are not measured yet: run doctor without --no-self-test)"], ""
    choice = auto.choose_rung(rungs, list(rungs))
    chosen = replace(config, model=choice.rung)
    return [f"model: auto picks {choice.reason}", f"  {model_line(chosen, backend)}"], choice.rung


def report(
    config: Config,
    profile: hardware.Profile | None = None,
    tests: Mapping[str, SelfTest] | None = None,
    rungs: Mapping[str, SelfTest] | None = None,
) -> str:
    """The doctor's page; ``tests`` holds the backends' self-tests to show (see :func:`self_tests`), and ``rungs``
    the installed rungs' on the chosen backend (see :func:`~smallcoder_lsp.models.auto.rung_self_tests`)."""
    profile = profile or hardware.detect()
    tests = tests or {}
    cpu = f"{profile.cpu_model}, " if profile.cpu_model else ""
    lines = [
        "hardware",
        f"  os: {profile.os} ({profile.arch})",
        f"  cpu: {cpu}{profile.cpu_cores} cores, ram: {profile.ram_gb} GB",
        f"  apple silicon: {'yes (Metal)' if profile.apple_silicon else 'no'}",
        f"  cuda: {', '.join(profile.cuda_devices) if profile.cuda else 'none'}",
        "runtimes: " + ", ".join(f"{m} {'yes' if ok else 'no'}" for m, ok in profile.installed.items()),
        "backends" + (" (decode rate: a self-test of about 2 s with the model below)" if tests else ""),
    ]
    lines += [backend_line(name, profile, tests.get(name)) for name in hardware.RUNTIMES]
    choice, reason = backend_choice(config, profile, tests)
    lines.append(f"choice: {choice} ({reason})")
    models, rung = model_lines(config, choice, rungs)
    lines += models
    if choice == "llama_cpp":
        lines.append(threads_line(config))
    lines += rung_lines(rung, rungs)
    return "\n".join(lines)
