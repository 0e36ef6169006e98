"""Docstring generation with the completion model: layouts from the syntax tree, words from the model."""
