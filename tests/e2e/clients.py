"""Client capabilities for the end-to-end tests: recorded VS Code and Neovim ones, plus inline completion.

pytest-lsp's recorded files predate LSP 3.18, so none declares ``textDocument.inlineCompletion``; VS Code
(with vscode-languageclient's proposed features) and Neovim 0.12 do, so we add it.
"""

from __future__ import annotations

import sys

from lsprotocol import types
from pytest_lsp import client_capabilities

SERVER_COMMAND = [sys.executable, "-m", "smallcoder_lsp", "serve", "--log-level", "debug"]


def with_inline_completion(caps: types.ClientCapabilities) -> types.ClientCapabilities:
    if caps.text_document is None:
        caps.text_document = types.TextDocumentClientCapabilities()
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities(dynamic_registration=False)
    return caps


CLIENTS = {
    "vscode": lambda: with_inline_completion(client_capabilities("visual-studio-code")),
    "neovim": lambda: with_inline_completion(client_capabilities("neovim@v0.11.0")),
}
