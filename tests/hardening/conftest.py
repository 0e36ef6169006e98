"""The hardening suite's one option: ``pytest tests/hardening --long`` (or SMALLCODER_HARDENING_LONG=1) runs the
fuzzers for thousands of sessions (SMALLCODER_FUZZ_SESSIONS sets another count) and the soak for
SMALLCODER_SOAK_MINUTES (default 30); CI runs short budgets."""

from __future__ import annotations

import os

import pytest

LONG = "SMALLCODER_HARDENING_LONG"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", help="hardening: long fuzzing budgets and the soak")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--long", default=False):
        os.environ[LONG] = "1"  # read when the test modules are imported (hypothesis settings)


def is_long() -> bool:
    return os.environ.get(LONG) == "1"
