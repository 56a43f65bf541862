"""Entry point of the emulated host: takes exactly what a connection's exec_command gets.

It checks that the command line is the collection's bootstrap and that the script on
stdin is the shipped operation script, runs the Python emulation of that operation
against the host's locked state, records it in the host's operation log, and answers
with the JSON line the real bootstrap prints.
"""

from __future__ import annotations

import base64
import json
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils import _host_ops

from .errors import LabProtocolError, WindowsError_
from .network import Network
from .ops import OPERATIONS, OpContext
from .state import HostStore


def decode_command(cmd: str) -> str:
    parts = cmd.split(" ")
    if len(parts) != 7 or parts[:6] != list(_host_ops._POWERSHELL_ARGS):
        raise LabProtocolError(f"not the iis.ccs bootstrap command line: {cmd[:120]!r}")
    return base64.b64decode(parts[6]).decode("utf-16-le")


def parse_payload(in_data: bytes | None) -> tuple[str, dict[str, t.Any]]:
    if not in_data:
        raise LabProtocolError("no payload on stdin")
    try:
        text = in_data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise LabProtocolError("payload is not ASCII; non-ASCII text must travel as JSON \\u escapes") from exc
    payload = json.loads(text)
    operation = payload.get("operation")
    if operation not in _host_ops.operation_names():
        raise LabProtocolError(f"unknown operation {operation!r}: no such script is shipped")
    if payload.get("script") != _host_ops.load_operation_script(operation):
        raise LabProtocolError(f"the script sent for {operation!r} is not the shipped one")
    if payload.get("library") != _host_ops.load_operation_library(operation):
        raise LabProtocolError(f"the shared functions sent for {operation!r} are not the ones it declares")
    if operation not in OPERATIONS:
        raise LabProtocolError(f"the lab has no emulation of operation {operation!r}")
    return operation, dict(payload.get("params") or {})


def execute(host: str, profile: t.Mapping[str, t.Any] | None, network_config: t.Mapping[str, t.Any] | None,
            cmd: str, in_data: bytes | None) -> tuple[int, bytes, bytes]:
    if decode_command(cmd) != _host_ops.BOOTSTRAP:
        raise LabProtocolError("the encoded bootstrap differs from the collection's")
    operation, params = parse_payload(in_data)
    network = Network(network_config)
    with HostStore(host, profile).locked() as state:
        context = OpContext(host=host.lower(), state=state, network=network, params=params)
        try:
            answer: dict[str, t.Any] = {"ok": True, "result": OPERATIONS[operation](context)}
        except WindowsError_ as exc:
            answer = {"ok": False, "error": {"message": exc.message, "type": exc.error_type, "id": "", "line": 0}}
        state["oplog"].append({"seq": len(state["oplog"]) + 1, "operation": operation, "ok": answer["ok"], "events": context.events})
    line = json.dumps(answer, ensure_ascii=True, separators=(",", ":"))
    return 0, (line + "\r\n").encode("ascii"), b""
