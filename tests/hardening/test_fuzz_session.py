"""Stateful protocol fuzzing: random LSP sessions against the real server process over stdio.

Valid steps (open, close, incremental and full changes, both completion requests, cancellations, docstring
commands, code actions, settings, status) are mixed with invalid ones (ranges past the end or inverted, positions
inside a surrogate pair, lone surrogates, NUL bytes, CR/CRLF/LF mixed, unknown URIs and methods, params of the
wrong type, requests before initialize and after shutdown, a 10 MB change). After every step the server must be
alive, answer smallcoder/status within 2 s, hold exactly the text the reference model holds for each document,
and have written nothing but well-formed frames. The fake backend stands in for the model (it always proposes
something), so the completion and docstring paths run on every request.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.hardening.conftest import is_long
from tests.hardening.figures import record
from tests.hardening.peer import Peer
from tests.hardening.reference import RefDoc, over_json

REPLIES = Path(tempfile.gettempdir()) / "smallcoder-fuzz-replies.json"
OPTIONS = {"completion": {"holdMs": 300, "blockWaitMs": 100}}
STATUS_WITHIN_S = 2.0
ANSWER_WITHIN_S = 20.0
TOTALS = {kind: {"sessions": 0, "steps": 0, "requests": 0} for kind in ("fake", "real")}

URIS = ["file:///w/a.py", "file:///w/b.py", "untitled:Untitled-1", "file:///w/%C3%BC%20dir/c.rs"]
LANGUAGES = ["python", "python", "plaintext", "rust", "no-such-language"]
PIECES = [
    "def f(n):\n", "    ", "return n", " + 1", "(", ")", ":", "x", "\n", "\r\n", "\r", "\t", "é", "語", "😀",
    "\ud83d", "\ude00", "\udfff", "\x00", "#", '"""', "class A:\n", "    pass\n", "if x:", " ",
    "\ndef g(a, b=1):\n    return a + b\n",
]  # fmt: skip
texts = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)
lines = st.one_of(st.integers(0, 6), st.integers(0, 40), st.just(2**31 - 1))
characters = st.one_of(st.integers(0, 8), st.integers(0, 30), st.just(2**31 - 1))
positions = st.builds(lambda line, character: {"line": line, "character": character}, lines, characters)
ranges = st.builds(lambda a, b: {"start": a, "end": b}, positions, positions)
changes = st.lists(
    st.one_of(
        st.builds(lambda r, t: {"range": r, "text": t}, ranges, texts),
        st.builds(lambda t: {"text": t}, texts),
    ),
    min_size=1,
    max_size=3,
)
BAD_VALUES = st.sampled_from([None, -1, "abc", [], {}, 1.5, True, 2**40])
settings_values = st.fixed_dictionaries(
    {},
    optional={
        "completion": st.fixed_dictionaries(
            {"holdMs": st.sampled_from([50, 300, 1000])},
            optional={
                "enabled": st.booleans(),
                "maxTokens": st.one_of(st.integers(1, 64), BAD_VALUES),
                "prefetch": st.booleans(),
                "maxLines": st.one_of(st.integers(1, 8), BAD_VALUES),
            },
        ),
        "kvStatesMb": st.one_of(st.sampled_from([0, 1, 64]), BAD_VALUES),
        "contextLength": st.sampled_from([256, 4096]),
        "logLevel": st.sampled_from(["debug", "info", "loud"]),
        "bogusSetting": st.integers(),
    },
)


class LspSession(RuleBasedStateMachine):
    """One server process per session; the model of what it should hold is in ``self.docs``."""

    kind = "fake"
    server_args: tuple[str, ...] = ("--backend", "fake", "--model", str(REPLIES))
    answer_within_s = ANSWER_WITHIN_S

    def __init__(self) -> None:
        super().__init__()
        REPLIES.write_text('{"": "value = compute(1)\\n"}')
        self.peer = Peer(*self.server_args, "--log-level", "info")
        self.peer.request("smallcoder/status", {}, timeout=60)  # started (imports take a while on a busy machine)
        self.docs: dict[str, RefDoc] = {}
        self.encoding = "utf-16"
        self.initialized = self.shut_down = False
        self.allow_big = False
        self.pending: list[int] = []
        self.steps = 0
        TOTALS[self.kind]["sessions"] += 1

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @initialize(big=st.integers(0, 4), encodings=st.sampled_from([[], ["utf-8"], ["utf-32", "utf-16"]]))
    def choose(self, big: int, encodings: list[str]) -> None:
        self.allow_big = big == 0  # one session in five gets a 10 MB change
        self.encodings = encodings

    @precondition(lambda self: not self.initialized)
    @rule(method=st.sampled_from(["smallcoder/status", "textDocument/inlineCompletion", "shutdown", "x/y"]))
    def request_before_initialize(self, method: str) -> None:
        response = self.peer.request(method, {}, timeout=STATUS_WITHIN_S)
        assert response.get("error", {}).get("code") == -32002, response

    @precondition(lambda self: not self.initialized)
    @rule()
    def start(self) -> None:
        caps = {"general": {"positionEncodings": self.encodings}} if self.encodings else {}
        result = self.peer.initialize(OPTIONS, {**caps, "window": {"workDoneProgress": True}})
        self.encoding = str(result["capabilities"].get("positionEncoding", "utf-16"))
        self.initialized = True

    @precondition(lambda self: self.initialized and not self.shut_down)
    @rule()
    def initialize_again(self) -> None:
        response = self.peer.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        assert response.get("error", {}).get("code") == -32600, response

    @precondition(lambda self: self.initialized and not self.shut_down and self.steps > 25)
    @rule()
    def shutdown(self) -> None:
        assert self.peer.request("shutdown", None, timeout=self.answer_within_s).get("result", "x") is None
        self.shut_down = True

    # -- documents ---------------------------------------------------------------------------------------------

    @precondition(lambda self: self.initialized and not self.shut_down)
    @rule(uri=st.sampled_from(URIS), language=st.sampled_from(LANGUAGES), text=texts, version=st.integers(0, 9))
    def open(self, uri: str, language: str, text: str, version: int) -> None:
        self.peer.open(uri, text, version, language)
        self.docs[uri] = RefDoc(version, over_json(text))

    @precondition(lambda self: self.initialized and not self.shut_down)
    @rule(uri=st.sampled_from([*URIS, "file:///never/opened.py"]))
    def close(self, uri: str) -> None:
        self.peer.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        self.docs.pop(uri, None)

    @precondition(lambda self: self.initialized and not self.shut_down)
    @rule(uri=st.sampled_from(URIS), edits=changes, version=st.integers(2, 1000))
    def change(self, uri: str, edits: list[dict[str, Any]], version: int) -> None:
        self.peer.notify(
            "textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": edits}
        )
        doc = self.docs.get(uri)
        if doc is not None:
            for edit in edits:
                doc.replace(edit.get("range"), edit["text"], self.encoding)
            doc.version = version

    @precondition(lambda self: self.initialized and not self.shut_down and self.allow_big)
    @rule(uri=st.sampled_from(URIS[:2]))
    def ten_megabytes(self, uri: str) -> None:
        self.allow_big = False
        text = "def helper(x):\n    return x\n" * 360_000
        self.peer.notify(
            "textDocument/didChange", {"textDocument": {"uri": uri, "version": 77}, "contentChanges": [{"text": text}]}
        )
        if uri in self.docs:
            self.docs[uri].replace(None, text)
            self.docs[uri].version = 77

    @precondition(lambda self: self.initialized and not self.shut_down)
    @rule(
        uri=st.sampled_from(URIS),
        key=st.sampled_from(["range", "text", "contentChanges", "textDocument"]),
        bad=BAD_VALUES,
    )
    def change_with_wrong_types(self, uri: str, key: str, bad: Any) -> None:
        edit: dict[str, Any] = {
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
            "text": "q",
        }
        params: dict[str, Any] = {"textDocument": {"uri": uri, "version": 5}, "contentChanges": [edit]}
        if key in ("range", "text"):
            edit[key] = bad
        else:
            params[key] = bad
        self.peer.notify("textDocument/didChange", params)  # refused whole: the model does not change
        doc = self.docs.get(uri)
        if doc is not None and key == "contentChanges" and bad in ([], {}):
            doc.version = 5  # no changes (cattrs reads {} as an empty list too): only the version moves
        elif doc is not None and key == "text" and isinstance(bad, str):
            doc.replace(edit["range"], bad)  # a string is the right type for a text after all
            doc.version = 5

    # -- requests ----------------------------------------------------------------------------------------------

    @precondition(lambda self: self.initialized and not self.shut_down)
    @rule(
        uri=st.sampled_from([*URIS, "file:///never/opened.py"]),
        position=positions,
        method=st.sampled_from(["textDocument/inlineCompletion", "textDocument/completion"]),
        trigger=st.sampled_from([1, 2]),
    )
    def complete(self, uri: str, position: dict[str, int], method: str, trigger: int) -> None:
        params = {"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": trigger}}
        self.pending.append(self.peer.request_async(method, params))

    @precondition(lambda self: self.initialized and not self.shut_down and bool(self.pending))
    @rule(which=st.integers(0, 9))
    def cancel(self, which: int) -> None:
        self.peer.notify("$/cancelRequest", {"id": self.pending[which % len(self.pending)]})

    @precondition(lambda self: self.initialized and not self.shut_down)
    @rule(
        uri=st.sampled_from(URIS), position=positions, shape=st.sampled_from(["ok", "no-args", "junk", "bad-position"])
    )
    def docstring(self, uri: str, position: dict[str, int], shape: str) -> None:
        argument: Any = {"uri": uri, "position": position}
        arguments = {
            "ok": [argument],
            "no-args": [],
            "junk": [42, "x"],
            "bad-position": [{"uri": uri, "position": {"line": "a"}}],
        }
        params = {"command": "smallcoder.generateDocstring", "arguments": arguments[shape]}
        self.pending.append(self.peer.request_async("workspace/executeCommand", params))

    @precondition(lambda self: self.initialized and not self.shut_down)
    @rule(uri=st.sampled_from(URIS), rng=ranges, resolve=st.booleans())
    def code_action(self, uri: str, rng: dict[str, Any], resolve: bool) -> None:
        params = {"textDocument": {"uri": uri}, "range": rng, "context": {"diagnostics": []}}
        response = self.peer.request("textDocument/codeAction", params, timeout=self.answer_within_s)
        actions = response.get("result") or []
        if resolve and actions:
            self.pending.append(self.peer.request_async("codeAction/resolve", actions[0]))

    @precondition(lambda self: self.initialized and not self.shut_down)
    @rule(values=settings_values, nested=st.booleans())
    def configure(self, values: dict[str, Any], nested: bool) -> None:
        self.peer.notify("workspace/didChangeConfiguration", {"settings": {"smallcoder": values} if nested else values})

    @precondition(lambda self: self.initialized)
    @rule(method=st.sampled_from(["x/unknown", "textDocument/hover", "$/unknown"]), as_request=st.booleans())
    def unknown_method(self, method: str, as_request: bool) -> None:
        if as_request:
            response = self.peer.request(method, {"a": 1}, timeout=STATUS_WITHIN_S)
            assert "error" in response, response
        else:
            self.peer.notify(method, {"a": 1})

    @precondition(lambda self: self.initialized)
    @rule(
        method=st.sampled_from(
            ["textDocument/inlineCompletion", "textDocument/codeAction", "workspace/executeCommand"]
        ),
        bad=BAD_VALUES,
    )
    def request_with_wrong_types(self, method: str, bad: Any) -> None:
        response = self.peer.request(method, {"textDocument": bad, "position": bad}, timeout=STATUS_WITHIN_S)
        assert "error" in response, response

    # -- invariants ------------------------------------------------------------------------------------------

    @invariant()
    def server_is_alive_and_its_documents_match(self) -> None:
        self.steps += 1
        TOTALS[self.kind]["steps"] += 1
        assert self.peer.alive(), f"the server died: {self.peer.stderr_tail()}"
        assert not self.peer.garbage, f"stdout holds something that is not a frame: {self.peer.garbage!r}"
        started = time.monotonic()
        response = self.peer.request("smallcoder/status", {"debug": True}, timeout=STATUS_WITHIN_S)
        assert time.monotonic() - started < STATUS_WITHIN_S
        if not self.initialized or self.shut_down:
            assert response.get("error", {}).get("code") == (-32600 if self.shut_down else -32002), response
            return
        held = response["result"]["documents"]
        assert set(held) == set(self.docs), (sorted(held), sorted(self.docs))
        for uri, doc in self.docs.items():
            assert held[uri]["version"] == doc.version, (uri, held[uri], doc.version)
            assert held[uri]["sha256"] == doc.digest, (uri, doc.text[:300])

    def teardown(self) -> None:
        try:
            for msg_id in self.pending:  # every request is answered, cancelled ones included
                self.peer.wait_response(msg_id, self.answer_within_s)
            TOTALS[self.kind]["requests"] += len(self.pending)
            if self.initialized and not self.shut_down:
                assert self.peer.request("shutdown", None, timeout=self.answer_within_s).get("result", "x") is None
            self.peer.notify("exit")
            assert self.peer.wait_exit(10) == (0 if self.initialized else 1)
            assert not self.peer.garbage, self.peer.garbage
            assert "Traceback" not in self.peer.stderr_text(), self.peer.stderr_text()[-3000:]
        finally:
            self.peer.close()


# Sessions with the fake backend: 12 in CI, 2,000 with --long; SMALLCODER_FUZZ_SESSIONS sets another count.
SESSIONS = int(os.environ.get("SMALLCODER_FUZZ_SESSIONS", 2000 if is_long() else 12))

LspSession.TestCase.settings = settings(
    max_examples=SESSIONS,
    stateful_step_count=60 if is_long() else 35,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=not is_long(),  # CI runs the same sessions each time; --long explores
)
TestLspSession = LspSession.TestCase


class RealModelSession(LspSession):
    """The same sessions with the real embedded model: a smaller share, as each completion takes real time."""

    kind = "real"
    server_args = ()
    answer_within_s = 180.0


RealModelSession.TestCase.settings = settings(
    max_examples=max(2, SESSIONS // 20) if is_long() else 2,
    stateful_step_count=40 if is_long() else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=not is_long(),
)
TestRealModelSession = pytest.mark.model(RealModelSession.TestCase)


def test_zz_report_totals() -> None:
    """Runs after the sessions (in file order): the figures for bench/results/hardening.md."""
    record("fuzz_sessions", long=is_long(), **{f"{kind}_{k}": v for kind, t in TOTALS.items() for k, v in t.items()})
