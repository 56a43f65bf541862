# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run one named PowerShell operation on a Windows host over the task's own connection.

The command line carries only a fixed, tiny launcher (``-EncodedCommand``); the parameters
travel on stdin as JSON, so no parameter is ever interpolated into PowerShell code or placed
on a command line (where it would be visible in process listings and in connection logs at
-vvvvv). The operation's script travels once per host: the host keeps it, and later calls
name it by its SHA-256, which the host checks before running it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import os
import re
import typing as t
import zlib
from dataclasses import dataclass, field

# The operation scripts are host-side data shared by every capability: plugin_utils/_operations.
OPERATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "_operations")
LIBRARY_DIR = os.path.join(OPERATIONS_DIR, "_library")

# An operation declares the shared function files it needs in its header: "# Uses: registry, store_access".
_USES_LINE = re.compile(r"^# Uses: *(.+)$", re.MULTILINE)

# Every call's bytes, cheapest first: the command line is base64 of UTF-16 (8 bytes on the wire
# for 3 characters), stdin travels as base64 (4 for 3), and compressed text about a third of that
# again. The cheapest bytes are those that do not travel: each operation's script is sent to a host
# once and kept there, and later calls send only its SHA-256 and the parameters.
#
# The command line carries only LAUNCHER, which reads stdin as lines ($input works for winrm/ssh
# process stdin and for psrp pipeline input alike, which ansible-core splits into lines) and runs
# the first one as it is (Invoke-Expression, in the same scope; the host's language mode applies to
# it as to any script). Stdin is then one of two requests, all ASCII:
#   cached call:   CACHED_LOADER / digest / parameters
#   sending call:  SENDING_LOADER / digest / parameters / the operation's script
# The parameters are JSON compressed with raw DEFLATE (RFC 1951, which .NET's DeflateStream reads)
# and base64-encoded; they stay on stdin and in data, out of every command line and of all code. The
# script (cached_script: the shared functions the operation declares, its script, and the answer
# logic) is compressed the same way.
LAUNCHER = "$i=@($input);iex $i[0]"

# The error types a loader answers with: a restricted language mode (its message is the mode; the
# controller says the sentence, so the loaders stay terse) and a script this host does not hold.
LANGUAGE_MODE_ERROR = "LanguageMode"
CACHE_MISS_ERROR = "CacheMiss"

# The host keeps scripts in the connecting account's own temporary folder, as <digest>.ps1: nothing
# to set up, other accounts cannot write there, and losing it costs one sending call per operation.
SCRIPT_CACHE_FOLDER = "iis.ccs"

# Constrained Language Mode (App Control for Business or AppLocker) blocks Add-Type, New-Object of
# most types and .NET method calls, so every operation would fail with an opaque error; say so once,
# before anything runs, without a .NET call of our own. Only the mode travels back (a string
# concatenation, allowed in every mode). ansible-core's own bootstrap checks the mode too.
# https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_language_modes
_MODE_CHECK = (
    "$l=[string]$ExecutionContext.SessionState.LanguageMode;if($l-ne'FullLanguage'){'{\"ok\":false,\"error\":{\"type\":\""
    + LANGUAGE_MODE_ERROR + "\",\"message\":\"'+$l+'\"}}'}else{"
)

# Runs a script the host already holds. The file's bytes are hashed in memory and run only when they
# are exactly the script the controller means: a file changed, truncated or planted by anyone gives a
# different digest, and the answer is CACHE_MISS_ERROR (nothing ran), so the controller sends the
# script. The digest is checked to be 64 hex digits before it becomes part of a path. It travels on
# every call, so it is terse and one line (the launcher runs only the first line of stdin).
CACHED_LOADER = _MODE_CHECK + "".join(
    [
        "$h=$i[1];$b=$null;if($h-match'^[0-9a-f]{64}$'){try{$b=[IO.File]::ReadAllBytes([IO.Path]::GetTempPath()+'"
        + SCRIPT_CACHE_FOLDER + "\\'+$h+'.ps1')}catch{}}",
        ";if($null-ne$b-and([BitConverter]::ToString([Security.Cryptography.SHA256]::Create().ComputeHash($b))-replace'-')-eq$h)"
        "{iex([Text.Encoding]::ASCII.GetString($b))}",
        "else{'{\"ok\":false,\"error\":{\"type\":\"" + CACHE_MISS_ERROR + "\",\"message\":\"\"}}'}}",
    ]
)

# Runs the script that came on stdin, and keeps it for the next call. Keeping it is best effort (a
# full or read-only temporary folder, or a file another call holds open, only costs the next call a
# resend), and it never decides what runs: the script runs from memory, the bytes just received.
SENDING_LOADER = _MODE_CHECK + "".join(
    [
        "$m=New-Object IO.MemoryStream;(New-Object IO.Compression.DeflateStream((New-Object IO.MemoryStream(,"
        "[Convert]::FromBase64String($i[3]))),'Decompress')).CopyTo($m);$b=$m.ToArray()",
        ";if($i[1]-match'^[0-9a-f]{64}$'){try{$d=[IO.Path]::GetTempPath()+'" + SCRIPT_CACHE_FOLDER + "'",
        ";$null=[IO.Directory]::CreateDirectory($d);[IO.File]::WriteAllBytes($d+'\\'+$i[1]+'.ps1',$b)}catch{}}",
        ";iex([Text.Encoding]::ASCII.GetString($b))}",
    ]
)

# The answer logic around every operation, kept on the host with its script: it inflates the
# parameters (the third stdin line), defines the shared functions the operation declares (so they
# are written once in the collection and visible to the operation), runs the operation as a script
# block with the parameters object as its only argument, keeps only its last output object (the
# hashtable it returns; a cmdlet that also writes to the pipeline on some Windows release must not
# turn the answer into a list), and writes exactly one line of JSON. Non-ASCII characters are
# escaped to \uXXXX so the answer survives any console code page on the way back.
_SCRIPT_HEAD = "\n".join(
    [
        "$ErrorActionPreference='Stop'",
        "$ProgressPreference='SilentlyContinue'",
        "try{",
        "$z=New-Object IO.Compression.DeflateStream((New-Object IO.MemoryStream(,[Convert]::FromBase64String($i[2]))),'Decompress')",
        "$p=(New-Object IO.StreamReader($z)).ReadToEnd()|ConvertFrom-Json",
    ]
)
_SCRIPT_TAIL = "\n".join(
    [
        "$a=@{ok=$true;result=$r}",
        "}catch{$a=@{ok=$false;error=@{message=$_.Exception.Message;type=$_.Exception.GetType().FullName}}}",
        "[Regex]::Replace((ConvertTo-Json $a -Depth 16 -Compress),'[^\\x00-\\x7F]',{param($m)'\\u{0:x4}' -f [int][char]$m.Value})",
    ]
)

# The one sentence the controller says for LANGUAGE_MODE_ERROR ({0} is the mode).
LANGUAGE_MODE_MESSAGE = (
    "PowerShell runs in {0} mode here (App Control or AppLocker), which blocks iis.ccs; nothing was changed."
    " Allow FullLanguage for the Ansible account (an App Control rule or a JEA endpoint)."
)

# Exactly the prefix ansible-core's own shell plugin uses: the winrm and psrp
# connection plugins of ansible-core 2.19 recognise it literally, run the encoded
# script without wrapping it again (psrp runs it in-process) and pass stdin through.
_POWERSHELL_ARGS = ("PowerShell", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Unrestricted", "-EncodedCommand")


# <S S="Error">text</S> elements of a CLIXML error stream, and the _xHHHH_ escapes inside them
# (CR, LF and other characters XML cannot carry; "_x005F_" is a literal underscore).
_CLIXML_ERROR_STRING = re.compile(r'<S S="Error">(.*?)</S>', re.DOTALL)
_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


# What each operation does, in the user's terms: a failure message leads with this, and the
# internal operation name travels separately (the ``operation`` result key).
OPERATION_PURPOSES = {
    "read_host_state": "Reading the IIS and CCS state",
    "configure_provider": "Configuring the CCS provider",
    "apply_bindings": "Applying the HTTPS bindings",
    "probe_store_access": "Checking access to the certificate store",
    "read_cert_store": "Reading the certificate store folder",
    "write_cert_store": "Writing to the certificate store folder",
    "read_store_acl": "Reading the store share's permissions",
    "verify_tls": "Checking the certificates the node serves",
}


def operation_purpose(operation: str) -> str:
    return OPERATION_PURPOSES.get(operation, "A host operation")


class HostOperationError(Exception):
    """An operation failed on the host, or its answer could not be understood."""

    def __init__(self, operation: str, host: str, message: str, error_type: str = "") -> None:
        self.operation = operation
        self.host = host
        self.windows_message = message
        self.error_type = error_type
        super().__init__(f"{operation_purpose(operation)} failed on host '{host}': {message}")


class HostConnectionLost(HostOperationError):
    """The connection broke while an operation was under way: it may or may not have run."""


class ConnectionLike(t.Protocol):
    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        raise NotImplementedError  # a body pylint can read: "..." would look like "returns None"


def bootstrap_command() -> str:
    """The full command line sent to the host; identical for every operation."""
    encoded = base64.b64encode(LAUNCHER.encode("utf-16-le")).decode("ascii")
    return " ".join(_POWERSHELL_ARGS + (encoded,))


def operation_names() -> list[str]:
    return sorted(name[:-4] for name in os.listdir(OPERATIONS_DIR) if name.endswith(".ps1"))


def load_operation_script(operation: str) -> str:
    if operation not in operation_names():
        raise ValueError(f"unknown host operation '{operation}'")
    with open(os.path.join(OPERATIONS_DIR, operation + ".ps1"), encoding="ascii") as handle:
        return handle.read()


def library_names() -> list[str]:
    return sorted(name[:-4] for name in os.listdir(LIBRARY_DIR) if name.endswith(".ps1"))


def operation_libraries(operation: str) -> list[str]:
    """The shared function files an operation declares, in the order it declares them."""
    match = _USES_LINE.search(load_operation_script(operation))
    names = [name.strip() for name in match.group(1).split(",")] if match else []
    unknown = sorted(set(names) - set(library_names()))
    if unknown:
        raise ValueError(f"operation '{operation}' uses unknown library {unknown}")
    return names


def compact_script(text: str) -> str:
    """A script as it is sent: without comment lines, blank lines and indentation.

    They are most of a script's bytes and mean nothing to PowerShell. Only whole lines are dropped
    and only leading blanks are cut, never anything inside a statement; a test parses every shipped
    script before and after and compares every token. A here-string (whose lines are data) is
    refused rather than mangled.
    """
    if "@'" in text or '@"' in text:
        raise ValueError("host scripts must not use here-strings: compact_script would change their text")
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("#"))


def load_operation_library(operation: str) -> str:
    """The shared functions an operation needs, as one script to dot-source before it runs."""
    texts = []
    for name in operation_libraries(operation):
        with open(os.path.join(LIBRARY_DIR, name + ".ps1"), encoding="ascii") as handle:
            texts.append(handle.read())
    return "\n".join(texts)


def wire_script(operation: str) -> str:
    """The operation's script as it travels (compacted)."""
    return compact_script(load_operation_script(operation))


def wire_library(operation: str) -> str:
    """The operation's shared functions as they travel (compacted)."""
    return compact_script(load_operation_library(operation))


@functools.cache
def cached_script(operation: str) -> str:
    """The exact text a host keeps and runs for an operation: the answer logic around its shared functions and script.

    Built only from the collection's own files (no parameter is ever part of it), compacted; the
    operation runs as a script block (``&{...} $p``) with the parameters object as its argument.
    """
    library = wire_library(operation)
    parts = [_SCRIPT_HEAD] + ([library] if library else []) + ["$r=@(&{", wire_script(operation), "} $p)[-1]", _SCRIPT_TAIL]
    return "\n".join(parts)


@functools.cache
def script_digest(operation: str) -> str:
    """SHA-256 of cached_script, lower-case hex: the name of the script on the host, and the proof the loader checks."""
    return hashlib.sha256(cached_script(operation).encode("ascii")).hexdigest()


def _deflate_base64(text: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # negative window bits: raw DEFLATE, as DeflateStream reads it
    return base64.b64encode(compressor.compress(text) + compressor.flush())


def _inflate_base64(line: bytes) -> bytes:
    return zlib.decompress(base64.b64decode(line.strip(), validate=True), -15)


def encode_params(params: t.Mapping[str, t.Any]) -> bytes:
    """The parameters line: JSON, raw DEFLATE, base64.

    ensure_ascii turns IDN host names and paths into \\uXXXX escapes, which ConvertFrom-Json
    decodes, so neither the compression nor the stdin code page of the host ever sees a
    non-ASCII character.
    """
    return _deflate_base64(json.dumps(dict(params), ensure_ascii=True, separators=(",", ":")).encode("ascii"))


def encode_call(operation: str, params: t.Mapping[str, t.Any], *, send_script: bool) -> bytes:
    """Stdin for one call: a cached call (the host runs the script it keeps), or a sending call (the script travels too)."""
    lines = [CACHED_LOADER.encode("ascii"), script_digest(operation).encode("ascii"), encode_params(params)]
    if send_script:
        lines[0] = SENDING_LOADER.encode("ascii")
        lines.append(_deflate_base64(cached_script(operation).encode("ascii")))
    return b"\n".join(lines)


def encode_payload(operation: str, params: t.Mapping[str, t.Any]) -> bytes:
    """A sending call: what any host runs, whether or not it holds the operation's script."""
    return encode_call(operation, params, send_script=True)


@dataclass(frozen=True)
class DecodedCall:
    """Stdin as the launcher and a loader read it (the lab decodes calls with this)."""

    loader: str
    digest: str
    params_json: bytes
    script: bytes | None  # the inflated script of a sending call; None for a cached call

    @property
    def sends_script(self) -> bool:
        return self.script is not None


def decode_call(in_data: bytes) -> DecodedCall:
    """ValueError when stdin is not one of the two requests: the launcher would run whatever its first line is."""
    lines = [line.rstrip(b"\r") for line in in_data.split(b"\n")]
    loader = lines[0].decode("ascii", errors="replace")
    expected = {CACHED_LOADER: 3, SENDING_LOADER: 4}.get(loader)
    if expected is None:
        raise ValueError("stdin does not start with an iis.ccs loader line")
    if len(lines) != expected:
        raise ValueError(f"stdin has {len(lines)} lines; this loader reads {expected}")
    script = _inflate_base64(lines[3]) if expected == 4 else None
    return DecodedCall(loader, lines[1].decode("ascii", errors="replace"), _inflate_base64(lines[2]), script)


def decode_answer(operation: str, host: str, rc: int, stdout: bytes, stderr: bytes) -> t.Any:
    return _result_of(_last_json_line(stdout), operation, host, rc, stdout, stderr)


def _result_of(answer: dict[str, t.Any] | None, operation: str, host: str, rc: int, stdout: bytes, stderr: bytes) -> t.Any:
    """The result of the answer found on stdout, or the HostOperationError it (or its absence) means."""
    if answer is None:
        detail = _clean_stderr(stderr) or _tail(stdout) or f"exit code {rc} and no output"
        raise HostOperationError(operation, host, f"no answer from the host ({detail})")
    if not answer.get("ok"):
        error = answer.get("error") or {}
        message = str(error.get("message") or "unknown error")
        if error.get("type") == LANGUAGE_MODE_ERROR:
            message = LANGUAGE_MODE_MESSAGE.format(message)
        raise HostOperationError(operation, host, message, str(error.get("type") or ""))
    return answer.get("result")


def _is_cache_miss(answer: dict[str, t.Any] | None) -> bool:
    return answer is not None and not answer.get("ok") and (answer.get("error") or {}).get("type") == CACHE_MISS_ERROR


def _last_json_line(stdout: bytes) -> dict[str, t.Any] | None:
    for line in reversed(stdout.decode("utf-8", errors="replace").splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and "ok" in parsed:
            return parsed
    return None


def _clean_stderr(stderr: bytes) -> str:
    text = stderr.decode("utf-8", errors="replace").strip()
    if text.startswith("#< CLIXML"):
        text = _clixml_to_text(text)
    return _tail(text.encode("utf-8"))


def _clixml_to_text(text: str) -> str:
    # PowerShell serialises its error stream as CLIXML when stderr is redirected. Parsed
    # here rather than with ansible-core's helper, which is private and moved between
    # releases (gone from ansible.plugins.shell.powershell in 2.21).
    parts = _CLIXML_ERROR_STRING.findall(text)
    if not parts:
        return text
    decoded = "".join(html.unescape(_CLIXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), part)) for part in parts)
    # Characters outside the BMP arrive as two escaped UTF-16 surrogates; join them.
    return decoded.encode("utf-16-le", "surrogatepass").decode("utf-16-le", errors="replace")


def _tail(data: bytes, limit: int = 2000) -> str:
    text = data.decode("utf-8", errors="replace").strip()
    return text[-limit:]


@dataclass
class HostOperationRunner:
    """Sends operations to one host and keeps the cost of doing so measurable."""

    connection: ConnectionLike
    host: str
    round_trips: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    script_sends: int = 0
    operations: list[str] = field(default_factory=list)
    _sent: set[str] = field(default_factory=set)

    def run(self, operation: str, params: t.Mapping[str, t.Any] | None = None) -> t.Any:
        """One cached call; a host that does not hold the script (first use, upgrade, cleaned temp folder) gets it sent."""
        params = params or {}
        # A host that did not hold one script is new to this collection version: the task's other
        # operations go with their script at once instead of costing a miss each.
        send = self.host_is_new and operation not in self._sent
        rc, stdout, stderr = self._exchange(operation, encode_call(operation, params, send_script=send))
        answer = _last_json_line(stdout)  # parsed once: the miss test and the result both read it
        if not send and _is_cache_miss(answer):
            send = True
            rc, stdout, stderr = self._exchange(operation, encode_call(operation, params, send_script=True))
            answer = _last_json_line(stdout)
        if send:
            self.script_sends += 1
            self._sent.add(operation)
        self.operations.append(operation)
        return _result_of(answer, operation, self.host, rc, stdout, stderr)

    @property
    def host_is_new(self) -> bool:
        """The host lacked a script in this task (every send follows a miss, or an earlier one): new to this version."""
        return self.script_sends > 0

    def _exchange(self, operation: str, in_data: bytes) -> tuple[int, bytes, bytes]:
        try:
            rc, stdout, stderr = self.connection.exec_command(bootstrap_command(), in_data=in_data, sudoable=False)
        except OSError as exc:
            # Socket errors, and requests' ConnectionError (an OSError) from the winrm plugin,
            # which lets them through unwrapped.
            raise HostConnectionLost(
                operation, self.host,
                f"the connection was lost before the host answered ({type(exc).__name__}: {exc}). The operation may or may "
                "not have completed on the host; run the play again, iis.ccs operations converge.",
            ) from exc
        self.round_trips += 1
        self.bytes_sent += len(in_data)
        self.bytes_received += len(stdout) + len(stderr)
        return rc, stdout, stderr

    def stats(self) -> dict[str, t.Any]:
        return {
            "round_trips": self.round_trips,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "script_sends": self.script_sends,
            "operations": list(self.operations),
        }
