"""Entry point of the emulated host: takes exactly what a connection's exec_command gets.

It checks that the command line is the collection's launcher and stdin one of the two loader
requests, finds the script as the loader would (sent on stdin, or kept in the host's temporary
folder under its SHA-256), checks that it is a shipped operation's, byte for byte, runs the Python emulation of that operation
against the host's locked state, records it in the host's operation log, and answers
with the JSON line the real bootstrap prints.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import typing as t
import zlib

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops

from . import faults, script_facts
from .rules import enforced
from .errors import LabProtocolError, WindowsError_
from .network import Network
from .ops import OPERATIONS, OpContext
from .state import LAB_ACCOUNT, HostStore, kept_script_path


def decode_command(cmd: str) -> str:
    parts = cmd.split(" ")
    if len(parts) != 7 or parts[:6] != list(host_ops._POWERSHELL_ARGS):
        raise LabProtocolError(f"not the iis.ccs bootstrap command line: {cmd[:120]!r}")
    return base64.b64decode(parts[6]).decode("utf-16-le")


def parse_call(in_data: bytes | None) -> tuple[host_ops.DecodedCall, dict[str, t.Any]]:
    """stdin as the launcher and a loader read it, and the parameters object ConvertFrom-Json makes of it;
    LabProtocolError where Windows would run something else or throw."""
    if not in_data:
        raise LabProtocolError("no payload on stdin")
    try:
        in_data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise LabProtocolError("payload is not ASCII; non-ASCII text must travel as JSON \\u escapes") from exc
    try:
        call = host_ops.decode_call(in_data)
    except (binascii.Error, ValueError, zlib.error) as exc:
        # The launcher would run another first line; [Convert]::FromBase64String or DeflateStream would throw.
        raise LabProtocolError(f"payload is not a loader line, a digest and base64 of raw DEFLATE streams: {exc}") from exc
    try:
        params = json.loads(call.params_json.decode("ascii"))
        (call.script or b"").decode("ascii")
    except UnicodeDecodeError as exc:
        raise LabProtocolError("payload is not ASCII; non-ASCII text must travel as JSON \\u escapes") from exc
    except ValueError as exc:  # ConvertFrom-Json would throw
        raise LabProtocolError(f"the parameters are not JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise LabProtocolError("the parameters are not a JSON object")
    return call, params


def shipped_operation(script: bytes) -> str:
    """The operation whose cached_script this is, byte for byte; LabProtocolError for any other code."""
    digest = hashlib.sha256(script).hexdigest()
    operation = _shipped_digests().get(digest)
    if operation is None:
        raise LabProtocolError("the script sent is not a shipped operation's (its shared functions, script and answer logic)")
    if operation not in OPERATIONS:
        raise LabProtocolError(f"the lab has no emulation of operation {operation!r}")
    return operation


def _shipped_digests() -> dict[str, str]:
    return {host_ops.script_digest(name): name for name in host_ops.operation_names()}


_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")  # the loaders' -match is case-insensitive


def script_to_run(host: str, account: str, call: host_ops.DecodedCall) -> bytes | None:
    """What the loader runs: the script sent (kept for next time in account's temporary folder where it
    can be written), or the file there whose bytes hash to the digest; None for a cached call the host
    cannot serve (the loader answers CacheMiss)."""
    valid_name = _HEX_DIGEST.match(call.digest) is not None
    if call.script is not None:
        if valid_name and not faults.script_cache_unwritable(host):
            path = kept_script_path(host, account, call.digest)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(call.script)
        return call.script
    if not valid_name:
        return None
    path = kept_script_path(host, account, call.digest)
    if not path.is_file():
        return None
    held = path.read_bytes()
    return held if hashlib.sha256(held).hexdigest() == call.digest.lower() else None


def operation_of(in_data: bytes | None, stdout: bytes | None = None) -> str:
    """The operation a call asks for, or "" (for logs and fault injection; execute checks it properly).

    With the host's answer: "" for a cache miss, where nothing ran."""
    if stdout is not None and f'"type":"{host_ops.CACHE_MISS_ERROR}"'.encode("ascii") in stdout:
        return ""
    try:
        return _shipped_digests().get(host_ops.decode_call(in_data or b"").digest.lower(), "")
    except (ValueError, binascii.Error, zlib.error):
        return ""


def execute(host: str, profile: t.Mapping[str, t.Any] | None, network_config: t.Mapping[str, t.Any] | None,
            cmd: str, in_data: bytes | None, *, account: str = LAB_ACCOUNT) -> tuple[int, bytes, bytes]:
    """Run one call as the loaders would on host, for the account that logged on (its own temporary folder)."""
    if decode_command(cmd) != host_ops.LAUNCHER:
        raise LabProtocolError("the encoded launcher differs from the collection's")
    if faults.powershell_blocked(host):
        return 1, b"", _clixml_error("This script contains malicious content and has been blocked by your antivirus software.",
                                     "ParserError: (:) [], ParseException", "ScriptContainedMaliciousContent")
    call, params = parse_call(in_data)
    network = Network(network_config)
    store = HostStore(host, profile)
    with store.locked() as state:
        try:
            _check_language_mode(state)  # the loaders' first step, before any file or .NET call
        except WindowsError_ as exc:
            return _answer({"ok": False, "error": {"message": exc.message, "type": exc.error_type}})
        script = script_to_run(host, account, call)
        if script is None:
            return _answer({"ok": False, "error": {"type": host_ops.CACHE_MISS_ERROR, "message": ""}})
        operation = shipped_operation(script)
        context = OpContext(host=host.lower(), state=state, network=network, params=params)
        try:
            answer: dict[str, t.Any] = {"ok": True, "result": OPERATIONS[operation](context)}
        except WindowsError_ as exc:
            answer = {"ok": False, "error": {"message": exc.message, "type": exc.error_type}}
        store.append_oplog({"operation": operation, "ok": answer["ok"], "events": context.events})
    return _answer(answer)


def _answer(answer: t.Mapping[str, t.Any]) -> tuple[int, bytes, bytes]:
    line = json.dumps(answer, ensure_ascii=True, separators=(",", ":"))
    return 0, (line + "\r\n").encode("ascii"), b""


def _check_language_mode(state: t.Mapping[str, t.Any]) -> None:
    """A restricted language mode: the loaders' one sentence, or the opaque error of the first .NET call."""
    mode = str(state.get("language_mode") or "FullLanguage")
    if mode != "FullLanguage" and enforced("constrained-language-blocks-dotnet"):
        if script_facts.has("checks_language_mode"):
            # The loaders answer with the mode alone; the controller says the sentence.
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
