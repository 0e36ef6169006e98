"""The stdout writer at exit: pygls's ``exit`` closes stdout before asyncio's clean-up runs what is still pending
(a model-status notification from the loader thread, an answer to a cancelled request). CI's
``test_params_of_the_wrong_type_get_an_invalid_params_answer`` met that: the fake model became ready just as the
client sent ``exit``, and the notification's write to the closed pipe was logged as a server error with a
traceback."""

from __future__ import annotations

import io
import logging

import pytest

from smallcoder_lsp.server.transport import PipeWriter


def test_a_message_sent_after_exit_closed_stdout_is_dropped_quietly(caplog: pytest.LogCaptureFixture):
    stdout = io.BytesIO()
    writer = PipeWriter(stdout)
    writer.write(b"Content-Length: 2\r\n\r\n{}")
    assert stdout.getvalue() == b"Content-Length: 2\r\n\r\n{}"

    writer.close()
    assert stdout.closed
    with caplog.at_level(logging.DEBUG, logger="smallcoder_lsp.server.transport"):
        writer.write(b"Content-Length: 2\r\n\r\n{}")
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "after exit" in caplog.text
