"""Static checks of the host-side PowerShell operation scripts, without PowerShell.

Each script must parse (tree-sitter-pwsh), carry the documented header, never build code from
its parameters, never call a cmdlet that can prompt, and use only cmdlets and parameters listed
with their Microsoft reference page in powershell/cmdlet_signatures.yml. The checker is itself
tested on inline snippets, so a check that silently stops catching anything fails too.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_pwsh
import yaml

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops

REPO = Path(__file__).resolve().parents[2]
OPERATIONS_DIR = REPO / "plugins" / "plugin_utils" / "_operations"
SIGNATURES_FILE = Path(__file__).resolve().parent / "powershell" / "cmdlet_signatures.yml"
SCRIPTS = sorted(OPERATIONS_DIR.glob("*.ps1"))
LIBRARIES = sorted((OPERATIONS_DIR / "_library").glob("*.ps1"))

DOC_URL = re.compile(r"^https://learn\.microsoft\.com/[a-z]{2}-[a-z]{2}/\S+$")

# https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_commonparameters
COMMON_PARAMETERS = frozenset(
    name.lower()
    for name in (
        "Debug", "ErrorAction", "ErrorVariable", "InformationAction", "InformationVariable", "OutBuffer",
        "OutVariable", "PipelineVariable", "ProgressAction", "Verbose", "WarningAction", "WarningVariable",
    )
)

# Commands that prompt, or that turn data into code. Matched case-insensitively, aliases included.
FORBIDDEN_COMMANDS = {
    "invoke-expression": "builds code from data",
    "iex": "builds code from data (alias of Invoke-Expression)",
    "read-host": "prompts",
    "get-credential": "prompts",
    "out-gridview": "needs a desktop",
    "set-iiscentralcertprovidercredential": "always prompts for the password",
}

# Commands that prompt unless given one of some parameters.
REQUIRED_PARAMETERS = {
    "enable-iiscentralcertprovider": (("privatekeypassword",), "prompts for the private key password without -PrivateKeyPassword"),
    "clear-iiscentralcertprovider": (("force", "confirm"), "asks for confirmation without -Force or -Confirm:$false"),
}

# Ways to run text as code that are not commands.
FORBIDDEN_TEXT = [
    (re.compile(r"\[\s*(System\.Management\.Automation\.)?ScriptBlock\s*\]\s*::\s*Create", re.IGNORECASE), "[ScriptBlock]::Create builds code from data"),
    (re.compile(r"\.InvokeScript\s*\(|\$ExecutionContext\.InvokeCommand", re.IGNORECASE), "InvokeScript/InvokeCommand runs text as code"),
    (re.compile(r"\bAdd-Type\b[^\n]*-TypeDefinition", re.IGNORECASE), "Add-Type -TypeDefinition compiles code at run time"),
]

_LANGUAGE = tree_sitter.Language(tree_sitter_pwsh.language())
_COMMANDS = tree_sitter.Query(_LANGUAGE, "(command command_name: (command_name) @name) @cmd")
_FUNCTIONS = tree_sitter.Query(_LANGUAGE, "(function_statement (function_name) @name)")
_COMMENTS = tree_sitter.Query(_LANGUAGE, "(comment) @comment")


@dataclasses.dataclass(frozen=True)
class Signatures:
    cmdlets: dict[str, frozenset[str]]  # lower-case name -> lower-case parameter names
    native: frozenset[str]

    @classmethod
    def load(cls, path: Path = SIGNATURES_FILE) -> Signatures:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        native = data.pop("native", None) or {}
        return cls(
            cmdlets={name.lower(): frozenset(p.lower() for p in entry.get("parameters") or []) for name, entry in data.items()},
            native=frozenset(name.lower() for name in native),
        )


@dataclasses.dataclass(frozen=True)
class CommandUse:
    name: str
    parameters: tuple[str, ...]
    line: int


def parse(source: bytes) -> tree_sitter.Tree:
    return tree_sitter.Parser(_LANGUAGE).parse(source)


def syntax_errors(tree: tree_sitter.Tree) -> list[str]:
    errors: list[str] = []

    def walk(node: tree_sitter.Node) -> None:
        if node.is_error or node.is_missing:
            kind = "missing" if node.is_missing else "unexpected"
            errors.append(f"line {node.start_point[0] + 1}: {kind} {node.type!r}")
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    if tree.root_node.has_error and not errors:
        errors.append("the parser reported an error")
    return errors


def command_uses(tree: tree_sitter.Tree) -> list[CommandUse]:
    uses = []
    for captures in _captures(_COMMANDS, tree):
        command, name = captures["cmd"][0], captures["name"][0]
        parameters = []
        for elements in command.children:
            if elements.type != "command_elements":
                continue
            for element in elements.children:
                if element.type == "command_parameter":
                    # "-Name", "-Name:" and "-Name:value" all name the parameter Name.
                    parameters.append(_text(element).lstrip("-").split(":", 1)[0])
        uses.append(CommandUse(_text(name), tuple(parameters), name.start_point[0] + 1))
    return uses


def defined_functions(tree: tree_sitter.Tree) -> set[str]:
    return {_text(name).lower() for captures in _captures(_FUNCTIONS, tree) for name in captures["name"]}


def code_without_comments(source: bytes, tree: tree_sitter.Tree) -> str:
    text = bytearray(source)
    for captures in _captures(_COMMENTS, tree):
        for comment in captures["comment"]:
            text[comment.start_byte:comment.end_byte] = b" " * (comment.end_byte - comment.start_byte)
    return text.decode("utf-8", errors="replace")


def header_problems(name: str, source: str) -> list[str]:
    """The documented header: '# iis.ccs operation: <name>', a description, '# Params:', then param($Params)."""
    lines = source.splitlines()
    comments = _header_comments(lines)
    problems = []
    if not comments or comments[0].strip() != f"# iis.ccs operation: {name}":
        problems.append(f"the first line must be '# iis.ccs operation: {name}'")
    if len(comments) < 3:
        problems.append("the header comment must say what the operation does")
    if not any(line.startswith("# Params:") for line in comments):
        problems.append("the header comment must document the parameters in a '# Params:' line")
    code = [line.strip() for line in lines[len(comments):] if line.strip() and not line.lstrip().startswith("#")]
    if not code or code[0].replace(" ", "").lower() != "param($params)":
        problems.append("the first statement after the header must be 'param($Params)'")
    return problems


def library_header_problems(name: str, source: str) -> list[str]:
    """A shared function file: '# iis.ccs library: <name>', a description, then functions only (no param block)."""
    comments = _header_comments(source.splitlines())
    problems = []
    if not comments or comments[0].strip() != f"# iis.ccs library: {name}":
        problems.append(f"the first line must be '# iis.ccs library: {name}'")
    if len(comments) < 2:
        problems.append("the header comment must say what the functions are shared for")
    if re.search(r"^\s*param\s*\(", source, re.IGNORECASE | re.MULTILINE):
        problems.append("a library defines functions only; it takes no parameters")
    return problems


def _header_comments(lines: list[str]) -> list[str]:
    comments = []
    for line in lines:
        if not line.startswith("#"):
            break
        comments.append(line)
    return comments


def library_functions(operation: str) -> set[str]:
    """Functions an operation gets from the shared files it declares with '# Uses:'."""
    return functions_of(host_ops.operation_libraries(operation))


def functions_of(libraries: t.Iterable[str]) -> set[str]:
    functions: set[str] = set()
    for name in libraries:
        functions |= defined_functions(parse((OPERATIONS_DIR / "_library" / f"{name}.ps1").read_bytes()))
    return functions


def library_uses(library: str) -> list[str]:
    """The shared files a shared file itself calls into, from its own '# Uses:' line."""
    match = re.search(r"^# Uses: *(.+)$", (OPERATIONS_DIR / "_library" / f"{library}.ps1").read_text(encoding="ascii"), re.MULTILINE)
    return [name.strip() for name in match.group(1).split(",")] if match else []


def script_problems(name: str, source: bytes, signatures: Signatures, provided: frozenset[str] | set[str] = frozenset(),
                    library: bool = False) -> list[str]:
    tree = parse(source)
    problems = [f"syntax: {error}" for error in syntax_errors(tree)]
    text = source.decode("utf-8", errors="replace")
    problems += library_header_problems(name, text) if library else header_problems(name, text)
    code = code_without_comments(source, tree)
    problems += [f"forbidden: {why}" for pattern, why in FORBIDDEN_TEXT if pattern.search(code)]
    local = defined_functions(tree) | set(provided)
    for use in command_uses(tree):
        key = use.name.lower()
        where = f"line {use.line}: {use.name}"
        if key in FORBIDDEN_COMMANDS:
            problems.append(f"forbidden: {where} {FORBIDDEN_COMMANDS[key]}")
            continue
        if key in REQUIRED_PARAMETERS:
            needed, why = REQUIRED_PARAMETERS[key]
            if not set(needed) & {p.lower() for p in use.parameters}:
                problems.append(f"forbidden: {where} {why}")
        if key in local:
            continue
        if key.endswith(".exe"):
            if key not in signatures.native:
                problems.append(f"undocumented: {where} is a native program missing from the native: section of {SIGNATURES_FILE.name}")
            continue
        known = signatures.cmdlets.get(key)
        if known is None:
            problems.append(f"undocumented: {where} is not in {SIGNATURES_FILE.name}")
            continue
        for parameter in use.parameters:
            if parameter.lower() not in known and parameter.lower() not in COMMON_PARAMETERS:
                problems.append(f"undocumented: {where} -{parameter} is not a listed parameter (full names only, no abbreviations)")
    return problems


def _captures(query: tree_sitter.Query, tree: tree_sitter.Tree) -> list[dict[str, list[tree_sitter.Node]]]:
    return [match[1] for match in tree_sitter.QueryCursor(query).matches(tree.root_node)]


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", errors="replace")


# --- the shipped scripts ----------------------------------------------------------------------------------


def test_there_are_operation_scripts() -> None:
    assert SCRIPTS, f"no .ps1 files in {OPERATIONS_DIR}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.stem for path in SCRIPTS])
def test_operation_script_is_clean(script: Path) -> None:
    problems = script_problems(script.stem, script.read_bytes(), Signatures.load(), provided=library_functions(script.stem))
    assert not problems, f"{script.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("library", LIBRARIES, ids=[path.stem for path in LIBRARIES])
def test_library_is_clean(library: Path) -> None:
    provided = functions_of(library_uses(library.stem))
    problems = script_problems(library.stem, library.read_bytes(), Signatures.load(), provided=provided, library=True)
    assert not problems, f"_library/{library.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.stem for path in SCRIPTS])
def test_operation_declares_what_its_libraries_use(script: Path) -> None:
    # The bootstrap dot-sources exactly the files an operation names; a library that calls into
    # another file only works if the operation names that file too.
    declared = set(host_ops.operation_libraries(script.stem))
    missing = {needed for library in declared for needed in library_uses(library)} - declared
    assert not missing, f"{script.name} uses libraries that need {sorted(missing)}: add them to its '# Uses:' line"


def test_every_library_is_used_and_defines_functions_no_operation_redefines() -> None:
    used = {name for script in SCRIPTS for name in host_ops.operation_libraries(script.stem)}
    assert used == {path.stem for path in LIBRARIES}, "a shared function file no operation uses is dead code"
    for script in SCRIPTS:
        own = defined_functions(parse(script.read_bytes()))
        shadowed = own & library_functions(script.stem)
        assert not shadowed, f"{script.name} redefines shared functions {sorted(shadowed)}: call the shared ones"


@pytest.mark.parametrize("script", SCRIPTS + LIBRARIES, ids=[path.stem for path in SCRIPTS + LIBRARIES])
def test_operation_script_is_ascii(script: Path) -> None:
    # Scripts travel inside an ASCII JSON payload and Windows PowerShell 5.1 reads BOM-less files as ANSI.
    script.read_bytes().decode("ascii")


def test_signatures_file_is_well_formed_and_sorted() -> None:
    data = yaml.safe_load(SIGNATURES_FILE.read_text(encoding="utf-8"))
    native = data.pop("native", None) or {}
    names = list(data)
    assert names == sorted(names, key=str.lower), "keep the cmdlets in cmdlet_signatures.yml sorted"
    for name, entry in [*data.items(), *native.items()]:
        assert isinstance(entry, dict) and DOC_URL.match(str(entry.get("doc", ""))), f"{name}: needs doc: <learn.microsoft.com URL>"
        parameters = entry.get("parameters")
        if name != "native" and parameters:
            assert isinstance(parameters, dict), f"{name}: parameters must map each name to its documentation anchor"
            for parameter, url in parameters.items():
                assert DOC_URL.match(str(url)) and f"#-{parameter.lower()}" in str(url), f"{name} -{parameter}: needs <doc URL>#-{parameter.lower()}"
    for name, entry in data.items():
        assert set(entry) <= {"doc", "parameters"}, f"{name}: unexpected keys {sorted(set(entry) - {'doc', 'parameters'})}"
        parameters = entry.get("parameters") or []
        assert all(isinstance(p, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", p) for p in parameters), f"{name}: parameters must be bare names"
        assert not {p.lower() for p in parameters} & COMMON_PARAMETERS, f"{name}: common parameters are implied, do not list them"


def test_every_listed_cmdlet_is_used() -> None:
    # A stale entry would let a later script use a cmdlet nobody checked the documentation of.
    used: set[str] = set()
    for script in SCRIPTS + LIBRARIES:
        used |= {use.name.lower() for use in command_uses(parse(script.read_bytes()))}
    signatures = Signatures.load()
    unused = sorted((set(signatures.cmdlets) | signatures.native) - used)
    assert not unused, f"listed in {SIGNATURES_FILE.name} but used by no script: {unused}"


# --- the checker itself -------------------------------------------------------------------------------------

HEADER = "# iis.ccs operation: snippet\n# Does one thing for the test.\n# Params: path (string).\nparam($Params)\n"
SNIPPET_SIGNATURES = Signatures(
    cmdlets={"get-item": frozenset({"literalpath"}), "enable-iiscentralcertprovider": frozenset({"certstorelocation", "privatekeypassword"})},
    native=frozenset({"netsh.exe"}),
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("if ($Params.path) { Get-Item -LiteralPath $Params.path\n", "syntax:", id="missing-brace"),
        pytest.param("$x = @{ a = 1\n", "syntax:", id="unclosed-hashtable"),
        pytest.param("$x = (1 + \n", "syntax:", id="unclosed-paren"),
        pytest.param("Remove-Item -LiteralPath $Params.path\n", "undocumented: line 5: Remove-Item is not in", id="undocumented-cmdlet"),
        pytest.param("Get-Item -Path $Params.path\n", "undocumented: line 5: Get-Item -Path is not a listed parameter", id="undocumented-parameter"),
        pytest.param("Get-Item -Lit $Params.path\n", "-Lit is not a listed parameter", id="abbreviated-parameter"),
        pytest.param("Get-Item -Force:$true -LiteralPath $Params.path\n", "-Force is not a listed parameter", id="colon-form-parameter"),
        pytest.param("icacls.exe $Params.path\n", "native program missing from the native: section", id="unlisted-native"),
        pytest.param("Invoke-Expression $Params.path\n", "forbidden: line 5: Invoke-Expression builds code", id="invoke-expression"),
        pytest.param("iex $Params.path\n", "forbidden: line 5: iex builds code", id="iex"),
        pytest.param("& ([ScriptBlock]::Create($Params.path))\n", "forbidden: [ScriptBlock]::Create", id="scriptblock-create"),
        pytest.param("$ExecutionContext.InvokeCommand.InvokeScript($Params.path)\n", "forbidden: InvokeScript", id="invoke-script"),
        pytest.param("Add-Type -TypeDefinition $Params.code\n", "forbidden: Add-Type -TypeDefinition", id="add-type-definition"),
        pytest.param("$answer = Read-Host 'password'\n", "forbidden: line 5: Read-Host prompts", id="read-host"),
        pytest.param("Set-IISCentralCertProviderCredential -UserName u\n", "always prompts", id="ccs-credential-cmdlet"),
        pytest.param("Enable-IISCentralCertProvider -CertStoreLocation $Params.path\n", "without -PrivateKeyPassword", id="enable-without-key-password"),
    ],
)
def test_checker_catches(body: str, expected: str) -> None:
    problems = script_problems("snippet", (HEADER + body).encode(), SNIPPET_SIGNATURES)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("param($Params)\nGet-Item -LiteralPath $Params.path\n", "the first line must be", id="no-header"),
        pytest.param("# iis.ccs operation: other\n# Does it.\n# Params: none.\nparam($Params)\n", "the first line must be", id="wrong-name"),
        pytest.param("# iis.ccs operation: snippet\n# Does it.\n# More.\nparam($Params)\n", "'# Params:' line", id="no-params-line"),
        pytest.param("# iis.ccs operation: snippet\n# Does it.\n# Params: none.\n$x = 1\nparam($Params)\n", "'param($Params)'", id="param-not-first"),
        pytest.param("# iis.ccs operation: snippet\n# Does it.\n# Params: none.\nparam($Options)\n", "'param($Params)'", id="wrong-param-name"),
    ],
)
def test_checker_catches_bad_headers(source: str, expected: str) -> None:
    problems = script_problems("snippet", source.encode(), SNIPPET_SIGNATURES)
    assert any(expected in problem for problem in problems), problems


def test_checker_accepts_a_clean_snippet() -> None:
    body = (
        "function Get-Thing([string]$Path) { return Get-Item -LiteralPath:$Path -ErrorAction SilentlyContinue }\n"
        "# Invoke-Expression and Read-Host in a comment are only words.\n"
        "$thing = Get-Thing $Params.path\n"
        "netsh.exe http show sslcert\n"
        "Enable-IISCentralCertProvider -CertStoreLocation $Params.path -PrivateKeyPassword $Params.key\n"
        "return @{ found = ($null -ne $thing) }\n"
    )
    assert script_problems("snippet", (HEADER + body).encode(), SNIPPET_SIGNATURES) == []


def test_command_uses_sees_every_command_and_parameter() -> None:
    tree = parse(b"Get-Item -LiteralPath:$a -Force | ForEach-Object { Join-Path $_ 'x' -Resolve }\n")
    assert [(use.name, use.parameters) for use in command_uses(tree)] == [
        ("Get-Item", ("LiteralPath", "Force")),
        ("ForEach-Object", ()),
        ("Join-Path", ("Resolve",)),
    ]


def test_signatures_file_is_read_case_insensitively(tmp_path: Path) -> None:
    path = tmp_path / "signatures.yml"
    path.write_text(
        "Get-Item:\n  doc: https://learn.microsoft.com/en-us/x\n  parameters: [LiteralPath]\n"
        "native:\n  Netsh.exe: {doc: https://learn.microsoft.com/en-us/y}\n"
    )
    loaded = Signatures.load(path)
    assert loaded.cmdlets == {"get-item": frozenset({"literalpath"})}
    assert loaded.native == frozenset({"netsh.exe"})


def _tokens(source: bytes) -> list[tuple[str, bytes]]:
    """Every leaf of the parse tree but comments and line breaks, in order: what PowerShell runs."""
    leaves: list[tuple[str, bytes]] = []
    stack = [parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.type == "comment":
            continue
        if node.child_count == 0 or node.type in ("string_literal", "expandable_string_literal", "verbatim_string_characters"):
            if node.text and node.text.strip():
                leaves.append((node.type, node.text))
            continue
        stack.extend(reversed(node.children))
    return leaves


@pytest.mark.parametrize("path", SCRIPTS + LIBRARIES, ids=lambda p: p.name)
def test_compacting_for_the_wire_keeps_every_token(path: Path) -> None:
    # host_ops sends scripts without comment lines and indentation; the parse must stay the same,
    # string literals included (a multi-line string would lose its inner indentation and fail here).
    original = path.read_bytes()
    compacted = host_ops.compact_script(original.decode("ascii")).encode("ascii")
    assert not syntax_errors(parse(compacted))
    assert _tokens(compacted) == _tokens(original)
    assert len(compacted) < len(original)
