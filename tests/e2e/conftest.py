from __future__ import annotations

import asyncio
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.e2e.clients import CLIENTS, SERVER_COMMAND


async def wait_until_loaded(client: LanguageClient, timeout: float = 120.0) -> dict[str, Any]:
    """Poll ``smallcoder/status`` until the model is ready or failed."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        status = await client.protocol.send_request_async("smallcoder/status", {})
        if status.state != "loading":
            return status
        await asyncio.sleep(0.1)
    raise TimeoutError("the model did not load")


# The generation deadline is a latency feature (unit-tested); here a busy machine must not change the answers.
PATIENT = {"completion": {"timeoutMs": 60_000}}


async def start_session(client: LanguageClient, caps: str, options: dict[str, Any] | None = None) -> None:
    # Editors' status bars listen to this; the tests poll smallcoder/status instead.
    client.feature("smallcoder/statusChanged")(lambda *_: None)
    result = await client.initialize_session(
        types.InitializeParams(capabilities=CLIENTS[caps](), initialization_options={**PATIENT, **(options or {})})
    )
    client.position_encoding = str(result.capabilities.position_encoding or "utf-16")  # type: ignore[attr-defined]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND), params=sorted(CLIENTS))
async def client(lsp_client: LanguageClient, request: pytest.FixtureRequest):
    """A real server with the real embedded model, seen through VS Code's or Neovim's capabilities."""
    await start_session(lsp_client, request.param)
    status = await wait_until_loaded(lsp_client)
    assert status.state == "ready", status.message
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def bare_client(lsp_client: LanguageClient):
    """A started server that the test itself initializes (to send its own settings)."""
    yield
    await lsp_client.shutdown_session()
