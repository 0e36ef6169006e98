"""``smallcoder-lsp doctor``: the hardware profile, each backend's availability, the choice and the model."""

from __future__ import annotations

from smallcoder_lsp.config import Config
from smallcoder_lsp.errors import SmallcoderError
from smallcoder_lsp.models import hardware
from smallcoder_lsp.models.convert import converted_dir
from smallcoder_lsp.models.files import EMBEDDED_NAME, resolve_model_path


def model_line(config: Config, backend: str) -> str:
    if backend == "remote":
        return f"remote server {config.remote_url or '(remoteUrl is not set)'}"
    try:
        gguf = resolve_model_path(config.model)
    except SmallcoderError as exc:
        return f"cannot resolve the model: {exc}"
    name = config.model or EMBEDDED_NAME
    if backend in ("mlx", "torch"):
        folder = converted_dir(gguf)
        state = "converted" if folder.exists() else "converted on first load"
        return f"{name}: Hugging Face folder {folder} ({state})"
    return f"{name}: {gguf}"


def report(config: Config, profile: hardware.Profile | None = None) -> str:
    profile = profile or hardware.detect()
    lines = [
        "hardware",
        f"  os: {profile.os} ({profile.arch})",
        f"  cpu cores: {profile.cpu_cores}, ram: {profile.ram_gb} GB",
        f"  apple silicon: {'yes (Metal)' if profile.apple_silicon else 'no'}",
        f"  cuda: {', '.join(profile.cuda_devices) if profile.cuda else 'none'}",
        "runtimes: " + ", ".join(f"{m} {'yes' if ok else 'no'}" for m, ok in profile.installed.items()),
        "backends",
    ]
    for name in hardware.RUNTIMES:
        ok, why = hardware.availability(profile, name)
        lines.append(f"  {name:<10} {'available' if ok else 'unavailable'}: {why}")
    choice, reason = hardware.choose_backend(config.backend, profile)
    lines += [f"choice: {choice} ({reason})", f"model: {model_line(config, choice)}"]
    return "\n".join(lines)
