"""Incremental detokenization: tokens may end inside a UTF-8 character, so text is emitted only when whole."""

from __future__ import annotations

import codecs


class StreamingDetokenizer:
    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.text = ""

    def add(self, piece: bytes) -> str:
        """Feed one token's bytes; return the newly completed text (possibly empty)."""
        new = self._decoder.decode(piece)
        self.text += new
        return new
