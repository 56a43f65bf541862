"""Entry point of the emulated host: takes exactly what a connection's exec_command gets.

It checks that the command line is the collection's bootstrap and that the script on
stdin is the shipped operation script, runs the Python emulation of that operation
against the host's locked state, records it in the host's operation log, and answers
with the JSON line the real bootstrap prints.
"""

from __future__ import annotations

import base64
import binascii
import json
import typing as t
import zlib

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops

from . import faults, script_facts
from .rules import enforced
from .errors import LabProtocolError, WindowsError_
from .network import Network
from .ops import OPERATIONS, OpContext
from .state import HostStore


def decode_command(cmd: str) -> str:
    parts = cmd.split(" ")
    if len(parts) != 7 or parts[:6] != list(host_ops._POWERSHELL_ARGS):
        raise LabProtocolError(f"not the iis.ccs bootstrap command line: {cmd[:120]!r}")
    return base64.b64decode(parts[6]).decode("utf-16-le")


def unpack(in_data: bytes) -> str:
    """stdin as the launcher and bootstrap read it: the bootstrap line, then base64 of raw-DEFLATE-compressed JSON, all ASCII."""
    try:
        in_data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise LabProtocolError("payload is not ASCII; non-ASCII text must travel as JSON \\u escapes") from exc
    try:
        document = host_ops.unpack_document(in_data)
    except (binascii.Error, ValueError, zlib.error) as exc:
        # The launcher would run another first line; [Convert]::FromBase64String or DeflateStream would throw.
        raise LabProtocolError(f"payload is not the bootstrap line and base64 of a raw DEFLATE stream: {exc}") from exc
    try:
        return document.decode("ascii")
    except UnicodeDecodeError as exc:
        raise LabProtocolError("payload is not ASCII; non-ASCII text must travel as JSON \\u escapes") from exc


def parse_payload(in_data: bytes | None) -> tuple[str, dict[str, t.Any]]:
    if not in_data:
        raise LabProtocolError("no payload on stdin")
    payload = json.loads(unpack(in_data))
    operation = payload.get("operation")
    if operation not in host_ops.operation_names():
        raise LabProtocolError(f"unknown operation {operation!r}: no such script is shipped")
    if payload.get("script") != host_ops.wire_script(operation):
        raise LabProtocolError(f"the script sent for {operation!r} is not the shipped one")
    if payload.get("library") != host_ops.wire_library(operation):
        raise LabProtocolError(f"the shared functions sent for {operation!r} are not the ones it declares")
    if operation not in OPERATIONS:
        raise LabProtocolError(f"the lab has no emulation of operation {operation!r}")
    return operation, dict(payload.get("params") or {})


def operation_of(in_data: bytes | None) -> str:
    """The operation a payload asks for, or "" (for logs and fault injection; execute checks it properly)."""
    try:
        return str(json.loads(unpack(in_data or b"")).get("operation") or "")
    except (ValueError, AttributeError, LabProtocolError):
        return ""


def execute(host: str, profile: t.Mapping[str, t.Any] | None, network_config: t.Mapping[str, t.Any] | None,
            cmd: str, in_data: bytes | None) -> tuple[int, bytes, bytes]:
    if decode_command(cmd) != host_ops.LAUNCHER:
        raise LabProtocolError("the encoded launcher differs from the collection's")
    if faults.powershell_blocked(host):
        return 1, b"", _clixml_error("This script contains malicious content and has been blocked by your antivirus software.",
                                     "ParserError: (:) [], ParseException", "ScriptContainedMaliciousContent")
    operation, params = parse_payload(in_data)
    network = Network(network_config)
    store = HostStore(host, profile)
    with store.locked() as state:
        context = OpContext(host=host.lower(), state=state, network=network, params=params)
        try:
            _check_language_mode(state)
            answer: dict[str, t.Any] = {"ok": True, "result": OPERATIONS[operation](context)}
        except WindowsError_ as exc:
            answer = {"ok": False, "error": {"message": exc.message, "type": exc.error_type}}
        store.append_oplog({"operation": operation, "ok": answer["ok"], "events": context.events})
    line = json.dumps(answer, ensure_ascii=True, separators=(",", ":"))
    return 0, (line + "\r\n").encode("ascii"), b""


def _check_language_mode(state: t.Mapping[str, t.Any]) -> None:
    """A restricted language mode: the bootstrap's one sentence, or the opaque error of the first .NET call."""
    mode = str(state.get("language_mode") or "FullLanguage")
    if mode != "FullLanguage" and enforced("constrained-language-blocks-dotnet"):
        if script_facts.has("checks_language_mode"):
            # The bootstrap answers with the mode alone; the controller says the sentence.
            raise WindowsError_(mode, host_ops.LANGUAGE_MODE_ERROR, rule="constrained-language-blocks-dotnet")
        raise WindowsError_("Cannot invoke method. Method invocation is supported only on core types in this language mode.",
                            "System.Management.Automation.PSInvalidOperationException", rule="constrained-language-blocks-dotnet")


_CLIXML_PROGRESS = (
    '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>'
    '<MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI>'
    '<PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>'
)


def _clixml_error(message: str, category: str, error_id: str) -> bytes:
    """What powershell.exe writes to a redirected stderr when an error escapes the script: the
    first-use progress record, then the error view one line per string, CR LF escaped."""
    lines = ["At line:1 char:1", "+ $ErrorActionPreference = 'Stop'", "+ ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~", message,
             f"    + CategoryInfo          : {category}", f"    + FullyQualifiedErrorId : {error_id}", " "]
    strings = "".join(f'<S S="Error">{_clixml_escape(line)}_x000D__x000A_</S>' for line in lines)
    document = f'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">{_CLIXML_PROGRESS}{strings}</Objs>'
    return ("#< CLIXML\r\n" + document).encode("utf-8")


def _clixml_escape(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("_x", "_x005F_x")
    # Characters outside the BMP travel as two escaped UTF-16 surrogates, as .NET writes them.
    return "".join(_escape_char(c) for c in escaped)


def _escape_char(char: str) -> str:
    code = ord(char)
    if code > 0xFFFF:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        return f"_x{high:04X}__x{low:04X}_"
    if code < 0x20:
        return f"_x{code:04X}_"
    return char
