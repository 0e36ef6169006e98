"""The code vocabulary's cut of a GGUF, on small GGUF files written here (the embedded model's cut is checked in
tests/backends/test_code_vocabulary.py)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader, GGUFWriter

from smallcoder_lsp.errors import ModelLoadError
from smallcoder_lsp.models import vocabulary
from smallcoder_lsp.models.vocabulary import KeptTokens, code_vocabulary_model, cut, shipped, vocabulary_digest

TOKENS = ["<pad>", "<eos>", "<bos>", "a", "b", "ab", "zz", "abc"]
KEEP = [0, 1, 2, 3, 4, 5, 7]  # "zz" goes


def write_model(path: Path, tokens: list[str] = TOKENS) -> np.ndarray:
    embedding = np.arange(len(tokens) * 4, dtype=np.float32).reshape(len(tokens), 4)
    writer = GGUFWriter(str(path), arch="gemma3")
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([float(-i) for i in range(len(tokens))])
    writer.add_token_types([3, 3, 3] + [1] * (len(tokens) - 3))
    writer.add_bos_token_id(2)
    writer.add_eos_token_id(1)
    writer.add_tensor("token_embd.weight", embedding)
    writer.add_tensor("blk.0.ffn_up.weight", np.ones((3, 7), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return embedding


def kept(tokens: list[str] = TOKENS) -> KeptTokens:
    return KeptTokens(vocabulary_digest([t.encode() for t in tokens]), np.array(KEEP, dtype=np.int64))


def field(reader: GGUFReader, key: str) -> object:
    return reader.fields[key].contents()


def test_the_cut_keeps_the_kept_tokens_rows_and_everything_else(tmp_path: Path) -> None:
    embedding = write_model(tmp_path / "m.gguf")
    cut(tmp_path / "m.gguf", tmp_path / "cut.gguf", kept())
    reader = GGUFReader(tmp_path / "cut.gguf")
    assert field(reader, "tokenizer.ggml.tokens") == [TOKENS[i] for i in KEEP]
    assert field(reader, "tokenizer.ggml.scores") == [float(-i) for i in KEEP]
    assert field(reader, "tokenizer.ggml.token_type") == [3, 3, 3, 1, 1, 1, 1]
    assert field(reader, "tokenizer.ggml.bos_token_id") == 2 and field(reader, "tokenizer.ggml.eos_token_id") == 1
    assert field(reader, "general.architecture") == "gemma3"
    tensors = {t.name: t for t in reader.tensors}
    assert np.array_equal(np.asarray(tensors["token_embd.weight"].data), embedding[KEEP])
    assert np.array_equal(np.asarray(tensors["blk.0.ffn_up.weight"].data), np.ones((3, 7), dtype=np.float32))


def test_a_token_id_setting_is_renumbered(tmp_path: Path) -> None:
    tokens = ["<pad>", "zz", "<eos>", "<bos>", "a"]
    write_model(tmp_path / "m.gguf", tokens)  # bos = 2 and eos = 1 in the original numbering
    keep = KeptTokens(vocabulary_digest([t.encode() for t in tokens]), np.array([0, 1, 2, 4]))
    with pytest.raises(Exception, match="not a kept token"):  # eos (1) is "zz" here, and bos (2) "<eos>"
        cut(tmp_path / "m.gguf", tmp_path / "cut.gguf", KeptTokens(keep.vocabulary_sha256, np.array([0, 2, 4])))
    cut(tmp_path / "m.gguf", tmp_path / "cut.gguf", keep)
    reader = GGUFReader(tmp_path / "cut.gguf")
    assert field(reader, "tokenizer.ggml.bos_token_id") == 2 and field(reader, "tokenizer.ggml.eos_token_id") == 1


def test_the_cut_is_made_once_and_found_again(tmp_path: Path) -> None:
    write_model(tmp_path / "m.gguf")
    first = code_vocabulary_model(tmp_path / "m.gguf", tmp_path / "cache", kept())
    assert first != tmp_path / "m.gguf" and first.exists()
    made = first.stat().st_mtime_ns
    assert code_vocabulary_model(tmp_path / "m.gguf", tmp_path / "cache", kept()) == first
    assert first.stat().st_mtime_ns == made
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [first.name]  # no partial file left behind


def test_a_changed_model_file_gets_a_new_cut(tmp_path: Path) -> None:
    write_model(tmp_path / "m.gguf")
    first = code_vocabulary_model(tmp_path / "m.gguf", tmp_path / "cache", kept())
    write_model(tmp_path / "m.gguf")
    os.utime(tmp_path / "m.gguf", ns=(1, 1))
    second = code_vocabulary_model(tmp_path / "m.gguf", tmp_path / "cache", kept())
    assert second != first and second.exists()
    assert not first.exists()  # the older cut is not left to take 130 MB


def test_another_vocabulary_loads_whole_and_is_not_read_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_model(tmp_path / "m.gguf", [*TOKENS, "extra"])
    with caplog.at_level(logging.INFO):
        assert code_vocabulary_model(tmp_path / "m.gguf", tmp_path / "cache", kept()) == tmp_path / "m.gguf"
    assert "whole vocabulary" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert code_vocabulary_model(tmp_path / "m.gguf", tmp_path / "cache", kept()) == tmp_path / "m.gguf"
    assert caplog.text == ""  # the first look was remembered
    assert not list((tmp_path / "cache").glob("*.gguf"))


def test_a_truncated_model_is_a_clear_error(tmp_path: Path) -> None:
    write_model(tmp_path / "m.gguf")
    data = (tmp_path / "m.gguf").read_bytes()
    for size in (len(data) - 40, 200, 30):
        (tmp_path / "cut-off.gguf").write_bytes(data[:size])
        with pytest.raises(ModelLoadError, match="corrupt or truncated"):
            code_vocabulary_model(tmp_path / "cut-off.gguf", tmp_path / f"cache{size}", kept())
        assert not list((tmp_path / f"cache{size}").glob("*"))


def test_an_unwritable_cache_loads_the_whole_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_model(tmp_path / "m.gguf")
    (tmp_path / "cache").write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING):
        assert code_vocabulary_model(tmp_path / "m.gguf", tmp_path / "cache", kept()) == tmp_path / "m.gguf"
    assert "cannot write the code-vocabulary model" in caplog.text


def test_the_shipped_tokens_fit_gemma3() -> None:
    tokens = shipped()
    assert 60_000 < len(tokens.kept) < 150_000
    assert tokens.kept[-1] < 262_144 and np.all(np.diff(tokens.kept) > 0)
    assert {0, 1, 2, 3}.issubset(set(tokens.kept.tolist()))  # pad, eos, bos, unk
    assert KeptTokens.from_json(tokens.to_json("test")).digest == tokens.digest


def test_an_unreadable_token_list_loads_the_whole_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write_model(tmp_path / "m.gguf")
    (tmp_path / "tokens.json").write_text('{"vocabulary_sha256": "x", "bits": 8, "kept": "not base64!"}')
    monkeypatch.setattr(vocabulary, "KEPT_FILE", tmp_path / "tokens.json")
    with caplog.at_level(logging.WARNING):
        assert code_vocabulary_model(tmp_path / "m.gguf", tmp_path / "cache") == tmp_path / "m.gguf"
    assert "unreadable" in caplog.text
