"""The model ladder: a rung's slices are found through package metadata, joined once into the cache and checked
against the whole file's SHA-256; a missing, truncated or altered slice names the package and the command that
repairs it, and leaves nothing behind. The synthetic rung's packages are dist-info folders on a temporary path."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from smallcoder_lsp.config import Config
from smallcoder_lsp.errors import ModelLoadError
from smallcoder_lsp.models import ladder, loading, rates
from smallcoder_lsp.models.doctor import rung_lines
from smallcoder_lsp.models.files import resolve_model_path
from smallcoder_lsp.models.ladder import Rung, numbered_slices
from smallcoder_lsp.models.selftest import SelfTest

SLICES = [b"GGUF" + bytes(range(256)) * 40, bytes(range(255, -1, -1)) * 33, b"tail" * 500]


def install_fake(site: Path, n: int, data: bytes, *, record_size: bool = True, version: str = "1.0") -> None:
    """A dist-info folder for ``fake-model-part<n>`` whose RECORD lists its slice, as pip would leave it."""
    module = f"fake_model_part{n}"
    slice_path = site / module / "data" / f"part{n:02d}.bin"
    slice_path.parent.mkdir(parents=True)
    slice_path.write_bytes(data)
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fake-model-part{n}\nVersion: {version}\n")
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    size = len(data) if record_size else ""
    (info / "RECORD").write_text(f"{module}/data/part{n:02d}.bin,sha256={digest},{size}\n{info.name}/RECORD,,\n")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A rung ``fake`` of three slices, installed in ``site``, with the cache in ``cache``; ``made`` counts
    assemblies and ``loads`` the backends handed a model."""
    site = tmp_path / "site"
    for n, data in enumerate(SLICES, 1):
        install_fake(site, n, data)
    whole = b"".join(SLICES)
    rung = Rung(
        name="fake",
        model="Fake Coder",
        file_name="fake.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        licence="MIT",
        source="https://example.com/fake",
        fim=True,
        extra="fake",
        slices=numbered_slices("fake-model-part", "fake_model_part", len(SLICES), "1.0"),
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setitem(ladder.RUNGS, "fake", rung)
    monkeypatch.setenv("SMALLCODER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ladder, "CHUNK", 1000)  # several reads per slice
    made = []
    assemble = ladder.assemble
    monkeypatch.setattr(ladder, "assemble", lambda *a: made.append(1) or assemble(*a))
    loads = []
    monkeypatch.setattr(loading, "load_backend", lambda name, spec: loads.append(spec))
    return SimpleNamespace(rung=rung, site=site, cache=tmp_path / "cache", whole=whole, made=made, loads=loads)


def slice_file(env, n: int) -> Path:
    return env.site / f"fake_model_part{n}" / "data" / f"part{n:02d}.bin"


def cache_files(env) -> list[str]:
    folder = env.cache / "models"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def refused(env) -> str:
    """The load fails before any backend is given a file, and the cache holds no file, whole or partial."""
    with pytest.raises(ModelLoadError) as caught:
        loading.load_model(Config(model="fake", backend="llama_cpp"))
    assert env.loads == []
    assert cache_files(env) == []
    return str(caught.value)


def test_a_good_rung_is_assembled_once_then_reused(fake):
    path = resolve_model_path("fake")
    assert path == fake.cache / "models" / "fake.gguf"
    assert path.read_bytes() == fake.whole
    assert cache_files(fake) == ["fake.gguf", "fake.gguf.verified"]
    mtime = path.stat().st_mtime_ns
    assert resolve_model_path("fake") == path
    assert fake.made == [1] and path.stat().st_mtime_ns == mtime
    loading.load_model(Config(model="fake", backend="llama_cpp", code_vocabulary=False))
    assert [spec.path for spec in fake.loads] == [str(path)]


def test_a_cached_file_changed_in_place_is_caught_and_assembled_again(fake):
    path = resolve_model_path("fake")
    os.utime(path, ns=(1, 1))  # touched only: hashed again, found whole, kept
    assert resolve_model_path("fake") == path and fake.made == [1]
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))  # same size, new content
    assert resolve_model_path("fake").read_bytes() == fake.whole
    assert fake.made == [1, 1]


def test_a_flipped_byte_names_its_package(fake):
    data = bytearray(SLICES[1])
    data[7] ^= 0x40
    slice_file(fake, 2).write_bytes(bytes(data))
    message = refused(fake)
    assert "the slice differs from its RECORD's hash in fake-model-part2." in message
    assert message.endswith("Run: pip install --force-reinstall fake-model-part2==1.0")


def test_a_missing_slice_names_its_package(fake):
    slice_file(fake, 3).unlink()
    message = refused(fake)
    assert "fake-model-part3 lacks its slice fake_model_part3/data/part03.bin" in message
    assert message.endswith("Run: pip install --force-reinstall fake-model-part3==1.0")


def test_a_truncated_slice_names_its_package(fake):
    slice_file(fake, 1).write_bytes(SLICES[0][:-10])
    message = refused(fake)
    assert f"fake-model-part1's slice has {len(SLICES[0]) - 10:,} bytes, not the {len(SLICES[0]):,}" in message
    assert message.endswith("Run: pip install --force-reinstall fake-model-part1==1.0")


def test_without_record_sizes_a_short_total_names_the_packages_that_cannot_be_told_apart(fake, tmp_path, monkeypatch):
    bare = tmp_path / "bare"
    install_fake(bare, 2, SLICES[1][:-1], record_size=False)
    monkeypatch.syspath_prepend(str(bare))  # shadows the fixture's part 2
    message = refused(fake)
    assert "do not add up to" in message
    assert message.endswith("Run: pip install --force-reinstall fake-model-part2==1.0")


def test_a_missing_package_or_another_version_names_the_install_command(fake, tmp_path, monkeypatch):
    other = tmp_path / "other"
    install_fake(other, 1, SLICES[0], version="0.9")
    monkeypatch.syspath_prepend(str(other))
    assert refused(fake).endswith("fake-model-part1 0.9 is installed, not 1.0. Run: pip install --force-reinstall "
                                  "fake-model-part1==1.0")  # fmt: skip
    monkeypatch.setattr(ladder, "installed_version", lambda name: None if name.endswith("3") else "1.0")
    assert refused(fake).endswith("(fake-model-part3 missing). Run: pip install fake-model-part3==1.0")
    monkeypatch.setattr(ladder, "installed_version", lambda name: None)
    assert refused(fake).endswith("Run: pip install 'smallcoder-lsp[fake]'")
    assert not ladder.rung_status("fake").installed and "fake" not in ladder.installed_rungs()


def test_assembling_in_two_threads_at_once_leaves_one_whole_file(fake):
    paths = []
    threads = [threading.Thread(target=lambda: paths.append(ladder.rung_path("fake"))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(paths) == 2 and paths[0].read_bytes() == fake.whole
    assert cache_files(fake) == ["fake.gguf", "fake.gguf.verified"]


def test_status_and_identity_do_not_depend_on_when_the_rung_was_assembled(fake):
    assert ladder.rung_status("fake") == ladder.RungStatus(fake.rung, installed=True, assembled=False)
    identity = rates.model_identity("fake")
    assert ladder.rung_status("fake").assembled
    os.utime(resolve_model_path("fake"), ns=(1, 1))
    assert rates.model_identity("fake") == identity == f"fake:{fake.rung.sha256}"
    assert ladder.display_name("fake") == "Fake Coder (fake)"


def test_doctor_lists_each_rung_with_its_state_and_a_rate_when_one_is_given(fake, monkeypatch):
    lines = rung_lines("fake", {"fake": SelfTest("llama_cpp", decode_tok_s=46.0, tokens=64)})
    assert "  tiny     253 MB  Gemma 3 270M base, Q4_K_M — Gemma Terms of Use — " in "\n".join(lines)
    expected = " *fake       0 MB  Fake Coder, FIM — MIT — installed, assembled on first use — decodes 46 tok/s"
    assert lines[-1] == expected
    resolve_model_path("fake")
    monkeypatch.setattr(ladder, "installed_version", lambda name: None)
    assert rung_lines("")[-1].endswith("not installed: pip install 'smallcoder-lsp[fake]'")


def test_the_installed_small_rung_assembles_to_its_size():
    if not ladder.rung_status("small").installed:
        pytest.skip("the small model's packages are not installed")
    path = resolve_model_path("small")  # the normal user cache: assembled once per machine
    assert path.stat().st_size == ladder.RUNGS["small"].size
    assert ladder.rung_status("small").assembled
