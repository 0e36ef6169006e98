"""Bad input gets a clear answer, and the server keeps serving."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import start_session, wait_until_loaded
from tests.e2e.helpers import apply_inline, end_of, inline, open_doc, parses

FIB = "def fibonacci(n):\n    "


async def still_serving(client: LanguageClient) -> None:
    uri = open_doc(client, FIB)
    assert len((await inline(client, uri, end_of(FIB, client.position_encoding))).items) == 1


async def test_character_past_the_line_end_means_the_line_end(client: LanguageClient):
    uri = open_doc(client, FIB)
    result = await inline(client, uri, types.Position(line=1, character=400))
    assert len(result.items) == 1
    assert result.items[0].range.end == end_of(FIB, client.position_encoding)


async def test_line_past_the_end_is_empty_and_logged(client: LanguageClient):
    uri = open_doc(client, FIB)
    result = await inline(client, uri, types.Position(line=50, character=0))
    assert not result.items
    assert any("past the end" in m.message for m in client.log_messages)
    await still_serving(client)


async def test_unknown_document_is_empty_and_logged(client: LanguageClient):
    result = await inline(client, "file:///never/opened.py", types.Position(line=0, character=0))
    assert not result.items
    assert any("not open" in m.message for m in client.log_messages)
    await still_serving(client)


async def test_empty_document(client: LanguageClient):
    uri = open_doc(client, "")
    result = await inline(client, uri, types.Position(line=0, character=0))
    for item in result.items:
        assert parses(str(item.insert_text))
    await still_serving(client)


async def test_five_megabyte_document_is_completed_from_its_window(client: LanguageClient):
    body = "".join(f"def helper_{i}(value):\n    return value + {i}\n\n\n" for i in range(100_000))
    text = body + FIB
    assert len(text.encode()) > 5_000_000
    uri = open_doc(client, text, name="huge.py")
    result = await inline(client, uri, end_of(text, client.position_encoding))
    assert len(result.items) == 1
    assert result.items[0].range.start.line == text.count("\n")


async def test_emoji_and_cjk_positions_land_right(client: LanguageClient):
    enc = client.position_encoding
    text = 'def greet(name):\n    message = "😀 你好, " + na'
    uri = open_doc(client, text)
    result = await inline(client, uri, end_of(text, enc))
    assert len(result.items) == 1
    item = result.items[0]
    assert item.range.end == end_of(text, enc)
    assert str(item.insert_text).startswith('    message = "😀 你好, " + na')
    assert apply_inline(text, item, enc).startswith(text)


async def test_binary_document_is_refused_with_a_message(client: LanguageClient):
    uri = open_doc(client, "abc\x00\x01\x02def", name="blob.bin")
    result = await inline(client, uri, types.Position(line=0, character=3))
    assert not result.items
    assert any("binary" in m.message for m in client.log_messages)
    await still_serving(client)


async def _model_failure(bare_client: LanguageClient, model: str) -> None:
    await start_session(bare_client, "vscode", {"model": model})
    status = await wait_until_loaded(bare_client)
    assert status.state == "error"
    uri = open_doc(bare_client, FIB)
    for _ in range(3):
        assert not (await inline(bare_client, uri, end_of(FIB))).items
    errors = [m for m in bare_client.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1, errors
    assert "model" in errors[0].message
    # The server is still up and answering.
    assert (await bare_client.protocol.send_request_async("smallcoder/status", {})).state == "error"


async def test_missing_model_path(bare_client: LanguageClient, tmp_path: Path):
    await _model_failure(bare_client, str(tmp_path / "no-such-model.gguf"))
    assert "not found" in bare_client.messages[-1].message


async def test_corrupt_model_file(bare_client: LanguageClient, tmp_path: Path):
    bad = tmp_path / "corrupt.gguf"
    bad.write_bytes(b"GGUF" + bytes(range(256)) * 40)
    await _model_failure(bare_client, str(bad))


async def test_file_that_is_not_a_model(bare_client: LanguageClient, tmp_path: Path):
    bad = tmp_path / "notes.gguf"
    bad.write_text("these are not weights")
    await _model_failure(bare_client, str(bad))
    assert "not a GGUF" in bare_client.messages[-1].message


async def test_unknown_and_mistyped_settings_give_one_message_then_defaults(bare_client: LanguageClient):
    await start_session(bare_client, "neovim", {"bogusSetting": 1, "completion": {"maxTokens": "lots"}})
    status = await wait_until_loaded(bare_client)
    assert status.state == "ready"
    warnings = [m for m in bare_client.messages if m.type == types.MessageType.Warning]
    assert len(warnings) == 1
    assert "bogusSetting" in warnings[0].message and "maxTokens" in warnings[0].message
    uri = open_doc(bare_client, FIB)
    assert len((await inline(bare_client, uri, end_of(FIB, bare_client.position_encoding))).items) == 1


async def test_bad_settings_change_keeps_serving(client: LanguageClient):
    # A new configuration replaces the whole tree: keep the patient generation deadline of these tests.
    bad = {"threads": "two", "completion": {"timeoutMs": 60_000, "maxLines": []}}
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"smallcoder": bad}))
    await still_serving(client)
    warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
    assert any("threads" in m and "maxLines" in m for m in warnings)
