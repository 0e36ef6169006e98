"""Decoding above the backends: KV prefix reuse, sampling, stop rules, streaming, cancellation."""
