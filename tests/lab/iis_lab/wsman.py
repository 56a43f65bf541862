"""The WinRS part of WS-Management ([MS-WSMV]) that pywinrm and ansible-core's winrm plugin use.

Transport-free: ``WinRS.handle`` takes one decrypted SOAP request and returns one SOAP
response (or raises ``WsmanFault``). Shells and commands live in memory, like WinRM's own
plugin host: a restarted endpoint has forgotten them. A command starts when its Command
request arrives and runs once its stdin ends (End="true"); Receive then streams its output
in pieces no larger than the client's MaxEnvelopeSize allows, as WinRM does, with the
command state and exit code in the last one.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import threading
import typing as t
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops

from .emulator import operation_of

SENDING_LOADER_LINE = host_ops.SENDING_LOADER.encode("ascii") + b"\n"

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL_URI = NS["rsp"]
CMD_RESOURCE = SHELL_URI + "/cmd"
ACTIONS = {
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create": "create",
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete": "delete",
    SHELL_URI + "/Command": "command",
    SHELL_URI + "/Send": "send",
    SHELL_URI + "/Receive": "receive",
    SHELL_URI + "/Signal": "signal",
}
STATE_DONE = SHELL_URI + "/CommandState/Done"
STATE_RUNNING = SHELL_URI + "/CommandState/Running"
SIGNAL_TERMINATE = SHELL_URI + "/signal/terminate"

# WinRM's own fault codes (wsmanfault Code attribute), as pywinrm and ansible-core match them.
FAULT_TIMED_OUT = 2150858793
FAULT_SHELL_NOT_FOUND = 2150858843
FAULT_BAD_REQUEST = 2150858817
# Base64 of a Receive is about 4/3 of the raw bytes; keep the rest of the envelope in this much.
_ENVELOPE_OVERHEAD = 4096
_DEFAULT_MAX_ENVELOPE = 153600


class WsmanFault(Exception):
    """A SOAP fault as WinRM sends it (HTTP 500)."""

    def __init__(self, code: int, subcode: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.subcode = subcode
        self.reason = reason


@dataclasses.dataclass
class CommandOutcome:
    rc: int
    stdout: bytes
    stderr: bytes
    # The endpoint drops the TCP connection instead of answering the Receive that would
    # carry this output (lab fault injection; the command has run).
    drop_connection: bool = False


class Runner(t.Protocol):
    def __call__(self, command_line: str, stdin: bytes, account: str) -> CommandOutcome:  # account: the shell's owner
        raise NotImplementedError


@dataclasses.dataclass
class _Command:
    command_line: str
    account: str  # who runs it: the owner of its shell
    stdin: bytearray = dataclasses.field(default_factory=bytearray)
    stdin_chunks: int = 0
    started: bool = False
    outcome: CommandOutcome | None = None
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    stdout_sent: int = 0
    stderr_sent: int = 0


@dataclasses.dataclass
class _Shell:
    owner: str
    codepage: str
    commands: dict[str, _Command] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Request:
    action: str
    message_id: str
    shell_id: str | None
    operation_timeout: float
    max_envelope: int
    options: dict[str, str]
    body: ET.Element


@dataclasses.dataclass
class Reply:
    xml: bytes
    # What happened, for the endpoint's traffic log and fault injection.
    action: str
    command_id: str | None = None
    shell_id: str | None = None
    stdin_chunks: int = 0
    stdin_bytes: int = 0
    stdin_sha256: str | None = None
    operation: str = ""
    sends_script: bool = False  # a sending call (the operation's script on stdin), not a cached one
    output_bytes: int = 0
    drop_connection: bool = False


def parse_request(data: bytes) -> Request:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise WsmanFault(FAULT_BAD_REQUEST, "w:InvalidMessageInformationHeader", f"The request is not well-formed XML: {exc}") from exc
    header = root.find("s:Header", NS)
    body = root.find("s:Body", NS)
    if header is None or body is None:
        raise WsmanFault(FAULT_BAD_REQUEST, "w:InvalidMessageInformationHeader", "The SOAP envelope has no header or body.")
    action_uri = _text(header, "a:Action")
    if action_uri not in ACTIONS:
        raise WsmanFault(FAULT_BAD_REQUEST, "a:ActionNotSupported", f"The action {action_uri!r} is not supported by this endpoint.")
    resource = _text(header, "w:ResourceURI")
    if resource != CMD_RESOURCE:
        raise WsmanFault(FAULT_BAD_REQUEST, "w:InvalidResourceURI", f"The resource URI {resource!r} is not supported by this endpoint.")
    selector = header.find("w:SelectorSet/w:Selector[@Name='ShellId']", NS)
    options = {o.get("Name", ""): (o.text or "") for o in header.findall("w:OptionSet/w:Option", NS)}
    return Request(
        action=ACTIONS[action_uri],
        message_id=_text(header, "a:MessageID"),
        shell_id=selector.text if selector is not None else None,
        operation_timeout=_duration_seconds(_text(header, "w:OperationTimeout") or "PT60S"),
        max_envelope=int(_text(header, "w:MaxEnvelopeSize") or _DEFAULT_MAX_ENVELOPE),
        options=options,
        body=body,
    )


class WinRS:
    """Shells and commands of one endpoint; thread-safe."""

    def __init__(self, runner: Runner, endpoint_url: str) -> None:
        self._runner = runner
        self._endpoint_url = endpoint_url
        self._shells: dict[str, _Shell] = {}
        self._lock = threading.Lock()

    def handle(self, data: bytes, user: str) -> Reply:
        request = parse_request(data)
        handler = getattr(self, "_" + request.action)
        reply = t.cast(Reply, handler(request, user))
        reply.shell_id = reply.shell_id or request.shell_id
        return reply

    # -- actions ------------------------------------------------------------
    def _create(self, request: Request, user: str) -> Reply:
        shell_id = str(uuid.uuid4()).upper()
        with self._lock:
            self._shells[shell_id] = _Shell(owner=user, codepage=request.options.get("WINRS_CODEPAGE", "437"))
        body = (
            f'<x:ResourceCreated><a:Address>{escape(self._endpoint_url)}</a:Address><a:ReferenceParameters>'
            f"<w:ResourceURI>{CMD_RESOURCE}</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>'
            f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId><rsp:ResourceUri>{CMD_RESOURCE}</rsp:ResourceUri>"
            f"<rsp:Owner>{escape(user)}</rsp:Owner><rsp:InputStreams>stdin</rsp:InputStreams>"
            f"<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>"
        )
        return Reply(envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse", request.message_id, body), "create",
                     shell_id=shell_id)

    def _delete(self, request: Request, user: str) -> Reply:
        with self._lock:
            self._shell(request, user)
            self._shells.pop(t.cast(str, request.shell_id), None)
        return Reply(envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse", request.message_id, ""), "delete")

    def _command(self, request: Request, user: str) -> Reply:
        line = request.body.find("rsp:CommandLine", NS)
        if line is None:
            raise WsmanFault(FAULT_BAD_REQUEST, "w:SchemaValidationError", "The Command request has no CommandLine.")
        # WinRS joins the command and its arguments with a space before it runs them.
        command_line = " ".join(p for p in (_text(line, "rsp:Command"), _text(line, "rsp:Arguments")) if p)
        command_id = str(uuid.uuid4()).upper()
        with self._lock:
            shell = self._shell(request, user)
            shell.commands[command_id] = _Command(command_line, shell.owner)
        body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
        return Reply(envelope(SHELL_URI + "/CommandResponse", request.message_id, body), "command", command_id=command_id)

    def _send(self, request: Request, user: str) -> Reply:
        stream = request.body.find("rsp:Send/rsp:Stream", NS)
        if stream is None or stream.get("Name") != "stdin":
            raise WsmanFault(FAULT_BAD_REQUEST, "w:SchemaValidationError", "The Send request has no stdin stream.")
        command_id = stream.get("CommandId", "")
        command = self._command_of(request, user, command_id)
        if command.started:
            raise WsmanFault(FAULT_BAD_REQUEST, "w:InvalidParameter", "The command has already ended; it takes no more input.")
        command.stdin.extend(base64.b64decode(stream.text or ""))
        command.stdin_chunks += 1
        reply = Reply(envelope(SHELL_URI + "/SendResponse", request.message_id, "<rsp:SendResponse/>"), "send", command_id=command_id)
        if stream.get("End", "false").lower() == "true":
            # The process reads stdin to its end and then runs: run it now, off this request.
            self._start(command)
            reply.stdin_chunks, reply.stdin_bytes = command.stdin_chunks, len(command.stdin)
            reply.stdin_sha256 = hashlib.sha256(bytes(command.stdin)).hexdigest()
            reply.operation = operation_of(bytes(command.stdin))
            reply.sends_script = bytes(command.stdin).startswith(SENDING_LOADER_LINE)
        return reply

    def _receive(self, request: Request, user: str) -> Reply:
        desired = request.body.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = desired.get("CommandId", "") if desired is not None else ""
        command = self._command_of(request, user, command_id)
        if not command.stdin_chunks:
            # No stdin was sent: the process saw an empty input stream and has run.
            self._start(command)
        if not command.done.wait(min(request.operation_timeout, 600.0)):
            raise WsmanFault(FAULT_TIMED_OUT, "w:TimedOut",
                             "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.")
        outcome = t.cast(CommandOutcome, command.outcome)
        budget = max(1024, (request.max_envelope - _ENVELOPE_OVERHEAD) * 3 // 4)
        sent_before = command.stdout_sent + command.stderr_sent
        parts, finished = _next_output(command, outcome, command_id, budget)
        if finished:
            parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{STATE_DONE}"><rsp:ExitCode>{outcome.rc}</rsp:ExitCode></rsp:CommandState>')
        else:
            parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{STATE_RUNNING}"/>')
        body = "<rsp:ReceiveResponse>" + "".join(parts) + "</rsp:ReceiveResponse>"
        drop = outcome.drop_connection and finished
        return Reply(envelope(SHELL_URI + "/ReceiveResponse", request.message_id, body), "receive", command_id=command_id, drop_connection=drop,
                     output_bytes=command.stdout_sent + command.stderr_sent - sent_before)

    def _signal(self, request: Request, user: str) -> Reply:
        signal = request.body.find("rsp:Signal", NS)
        command_id = signal.get("CommandId", "") if signal is not None else ""
        code = _text(signal, "rsp:Code") if signal is not None else ""
        with self._lock:
            shell = self._shell(request, user)
            if code == SIGNAL_TERMINATE:
                shell.commands.pop(command_id, None)
        return Reply(envelope(SHELL_URI + "/SignalResponse", request.message_id, "<rsp:SignalResponse/>"), "signal", command_id=command_id)

    # -- helpers ------------------------------------------------------------
    def _start(self, command: _Command) -> None:
        with self._lock:
            if command.started:
                return
            command.started = True
        threading.Thread(target=self._run, args=(command,), daemon=True).start()

    def _run(self, command: _Command) -> None:
        try:
            command.outcome = self._runner(command.command_line, bytes(command.stdin), command.account)
        except Exception as exc:  # the endpoint must answer even when the lab itself breaks
            command.outcome = CommandOutcome(1, b"", f"iis_lab WinRM endpoint: internal error: {exc!r}\r\n".encode())
        command.done.set()

    def _shell(self, request: Request, user: str) -> _Shell:
        shell = self._shells.get(request.shell_id or "")
        # Account names are case-insensitive on Windows: LAB\ansible by NTLM is lab\ansible by Basic.
        if shell is None or shell.owner.lower() != user.lower():
            raise WsmanFault(
                FAULT_SHELL_NOT_FOUND, "w:InvalidSelectors",
                f"The request for the Windows Remote Shell with ShellId {request.shell_id} failed because the shell was not found on the server. "
                "Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the server.")
        return shell

    def _command_of(self, request: Request, user: str, command_id: str) -> _Command:
        with self._lock:
            command = self._shell(request, user).commands.get(command_id)
        if command is None:
            raise WsmanFault(FAULT_BAD_REQUEST, "w:InvalidParameter", f"The command {command_id} was not found in the shell.")
        return command


def _next_output(command: _Command, outcome: CommandOutcome, command_id: str, budget: int) -> tuple[list[str], bool]:
    parts = []
    out = outcome.stdout[command.stdout_sent:command.stdout_sent + budget]
    command.stdout_sent += len(out)
    err = outcome.stderr[command.stderr_sent:command.stderr_sent + max(0, budget - len(out))]
    command.stderr_sent += len(err)
    finished = command.stdout_sent >= len(outcome.stdout) and command.stderr_sent >= len(outcome.stderr)
    for name, chunk in (("stdout", out), ("stderr", err)):
        if chunk:
            parts.append(f'<rsp:Stream Name="{name}" CommandId="{command_id}">{base64.b64encode(chunk).decode("ascii")}</rsp:Stream>')
        if finished:
            parts.append(f'<rsp:Stream Name="{name}" CommandId="{command_id}" End="true"></rsp:Stream>')
    return parts, finished


def envelope(action: str, relates_to: str, body: str) -> bytes:
    declarations = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items())
    header = (
        f"<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header>"
    )
    return f'<s:Envelope xml:lang="en-US" {declarations}>{header}<s:Body>{body}</s:Body></s:Envelope>'.encode()


def fault_envelope(fault: WsmanFault, relates_to: str, machine: str) -> bytes:
    body = (
        f"<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault Code="{fault.code}" Machine={quoteattr(machine)}><f:Message>{escape(fault.reason)}</f:Message>'
        f"</f:WSManFault></s:Detail></s:Fault>"
    )
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)


def _text(parent: ET.Element, path: str) -> str:
    node = parent.find(path, NS)
    return (node.text or "").strip() if node is not None else ""


def _duration_seconds(value: str) -> float:
    # xs:duration as WS-Management uses it: PT20S, PT20.000S, PT1M.
    seconds = 0.0
    number = ""
    for char in value.upper().removeprefix("PT"):
        if char.isdigit() or char == ".":
            number += char
        elif number:
            seconds += float(number) * {"H": 3600, "M": 60, "S": 1}.get(char, 0)
            number = ""
    return seconds or 60.0
