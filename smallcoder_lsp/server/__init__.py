"""The pygls language server: thin handlers that convert LSP types to core calls and back."""
