"""Documents and what the model is shown of them. Pure code: no LSP types; the only user of tree-sitter."""
