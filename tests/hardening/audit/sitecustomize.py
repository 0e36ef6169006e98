"""Put on PYTHONPATH by the no-network test: an audit hook that refuses network use in this process.

With SMALLCODER_AUDIT_LOG set, every socket event is checked. Allowed: Unix sockets (asyncio's self-pipe), and,
with SMALLCODER_AUDIT_LISTEN=1, binding a listener on a loopback address (``serve --tcp``) and the connections it
accepts. Anything else (a connect, a send to an address, a name lookup of a host that is not loopback, a bind
elsewhere) is written to the log as a violation and refused with an exception.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading

LOG = os.environ.get("SMALLCODER_AUDIT_LOG", "")
LISTEN = os.environ.get("SMALLCODER_AUDIT_LISTEN") == "1"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", None, ""}
INET = (socket.AF_INET, socket.AF_INET6)
_inside = threading.local()


class NetworkRefused(OSError):
    pass


def _write(kind: str, event: str, detail: str) -> None:
    with open(LOG, "a", encoding="utf-8") as out:
        out.write(json.dumps({"kind": kind, "event": event, "detail": detail, "pid": os.getpid()}) + "\n")


def _loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) and address else address
    return host in LOOPBACK_HOSTS or str(host).startswith("127.")


def _verdict(event: str, args: tuple[object, ...]) -> str | None:
    """None when allowed, else why not."""
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[1] if len(args) > 1 else None
        if getattr(sock, "family", None) in INET:
            return f"{event} to {address!r}"
    elif event == "socket.bind":
        sock, address = args
        if getattr(sock, "family", None) in INET and not (LISTEN and _loopback(address)):
            return f"bind to {address!r}"
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
        if not _loopback(args[0]):
            return f"{event} for {args[0]!r}"
    elif event == "urllib.Request":
        return f"urllib request to {args[0]!r}"
    return None


def _hook(event: str, args: tuple[object, ...]) -> None:
    if not (event.startswith("socket.") or event == "urllib.Request") or getattr(_inside, "busy", False):
        return
    _inside.busy = True
    try:
        why = _verdict(event, args)
        if event == "socket.bind" and why is None and getattr(args[0], "family", None) in INET:
            _write("listener", event, repr(args[1]))
        if event == "socket.__new__" and args[1] in INET:
            _write("socket", event, repr(args[1]))
        if why is not None:
            _write("violation", event, why)
    finally:
        _inside.busy = False
    if why is not None:
        raise NetworkRefused(f"network use refused by the no-network audit hook: {why}")


if LOG:
    _write("installed", "", " ".join(sys.argv))
    sys.addaudithook(_hook)
