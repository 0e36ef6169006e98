"""The embedded bench: the coding corpus and real typing replayed through the real server (``smallcoder-lsp bench``)."""
