"""smallcoder-lsp: local, private AI code completion for any LSP editor."""

__version__ = "0.1.0"
