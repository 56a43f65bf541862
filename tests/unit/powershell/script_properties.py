"""Safety properties of the host operation scripts, checked on their tree-sitter-pwsh syntax tree.

No PowerShell runs on the controller's test machine and the lab re-implements each operation in
Python, so nothing would notice a script that leaks a secret, skips its guard, leaves a temporary
file or an open connection behind or builds code from a parameter. These checks read the parsed script instead. They are
deliberately conservative: a construct they cannot prove safe is reported, and the script is
written so they can (for example a secret is passed straight to the digest function, not through
a helper variable). docs/ccs-behaviour.md#provider-secrets says why the secrets never leave.

An operation is checked as the host runs it: its declared libraries followed by the script; the two
loaders that run it have checks of their own (loader_violations).
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
from collections.abc import Iterator

import tree_sitter
import tree_sitter_pwsh

_LANGUAGE = tree_sitter.Language(tree_sitter_pwsh.language())

# The IIS provider key: its Password and PrivateKeyPassword values are machine-encrypted secrets.
PROVIDER_KEY = re.compile(r"Microsoft\\IIS\\CentralCertProvider", re.IGNORECASE)
SECRET_VALUES = frozenset({"password", "privatekeypassword"})
DIGEST_FUNCTION = "get-textdigest"
# Commands that read registry values of a key given by path.
REGISTRY_READS = frozenset({"read-registrykey", "get-itemproperty", "get-item", "get-itempropertyvalue"})

# Ways to turn text into code, whatever the text is.
CODE_FROM_TEXT_COMMANDS = frozenset({"invoke-expression", "iex", "start-process", "cmd", "cmd.exe", "powershell", "powershell.exe", "pwsh"})
CODE_FROM_TEXT_MEMBERS = {
    ("scriptblock", "create"): "[ScriptBlock]::Create builds code from text",
    ("system.management.automation.scriptblock", "create"): "[ScriptBlock]::Create builds code from text",
    ("system.diagnostics.process", "start"): "Process.Start takes a command line string",
}
# Native programs the operations run; their command line may carry only constants and splatted arrays.
NATIVE = re.compile(r"\.exe$", re.IGNORECASE)

# Calls that write a file's bytes (the first argument is the path).
FILE_WRITES = {("system.io.filestream", "new"), ("system.io.file", "writeallbytes"), ("system.io.file", "writealltext"),
               ("system.io.file", "create"), ("system.io.file", "openwrite")}
FILE_WRITE_COMMANDS = frozenset({"set-content", "out-file", "add-content"})


@dataclasses.dataclass(frozen=True)
class Guard:
    """A check that must dominate each state-changing call it protects."""

    check: str  # regex on a statement's text: the guard itself (a call, or an if that throws)
    protects: tuple[str, ...]  # regexes on the text of calls that change state
    why: str


@dataclasses.dataclass(frozen=True)
class Properties:
    """The safety properties one operation declares (secrets and injection hold for every operation)."""

    guards: tuple[Guard, ...] = ()
    temp_files: tuple[str, ...] = ()  # variables that name temporary files (lower case, without $)
    drives: bool = False  # maps a PSDrive, which must be removed on every path
    connections: tuple[str, ...] = ()  # variables holding a connection made with ::new (lower case, without $), disposed on every path


@dataclasses.dataclass(frozen=True)
class Violation:
    rule: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.rule} (line {self.line}): {self.text}"


def parse(source: str) -> tuple[tree_sitter.Node, bytes]:
    data = source.encode("utf-8")
    return tree_sitter.Parser(_LANGUAGE).parse(data).root_node, data


def check(source: str, properties: Properties) -> list[Violation]:
    """Every violation of the universal properties and of the operation's declared ones."""
    root, data = parse(source)
    found = _Checker(root, data)
    found.secrets()
    found.injection()
    found.file_writes(properties.temp_files)
    if properties.drives:
        found.drive_cleanup()
    if properties.connections:
        found.connection_cleanup(properties.connections)
    for guard in properties.guards:
        found.guard(guard)
    return found.violations


class _Checker:
    def __init__(self, root: tree_sitter.Node, data: bytes) -> None:
        self.root = root
        self.data = data
        self.violations: list[Violation] = []

    # -- helpers ---------------------------------------------------------------------------------
    def text(self, node: tree_sitter.Node) -> str:
        return self.data[node.start_byte:node.end_byte].decode("utf-8")

    def flag(self, rule: str, node: tree_sitter.Node, detail: str) -> None:
        self.violations.append(Violation(rule, node.start_point[0] + 1, f"{detail}: {self.text(node)[:120]!r}"))

    def nodes(self, *types: str, under: tree_sitter.Node | None = None) -> Iterator[tree_sitter.Node]:
        stack = [under or self.root]
        while stack:
            node = stack.pop()
            if node.type in types:
                yield node
            stack.extend(reversed(node.children))

    def command_name(self, command: tree_sitter.Node) -> str:
        name = command.child_by_field_name("command_name") or _first(command, "command_name")
        return self.text(name).lower() if name is not None else ""

    def command_elements(self, command: tree_sitter.Node) -> list[tree_sitter.Node]:
        elements = _first(command, "command_elements")
        if elements is None:
            return []
        return [child for child in elements.children if child.type != "command_argument_sep"]

    def parameter_value(self, command: tree_sitter.Node, parameter: str) -> tree_sitter.Node | None:
        elements = self.command_elements(command)
        for index, element in enumerate(elements):
            if element.type == "command_parameter" and self.text(element).lower().rstrip(":") == "-" + parameter:
                return elements[index + 1] if index + 1 < len(elements) else None
        return None

    def static_member(self, invocation: tree_sitter.Node) -> tuple[str, str] | None:
        """("system.io.file", "delete") for [System.IO.File]::Delete(...)."""
        type_literal = _first(invocation, "type_literal")
        member = _first(invocation, "member_name")
        if type_literal is None or member is None or invocation.children[0] != type_literal:
            return None
        return self.text(type_literal).strip("[]").lower(), self.text(member).lower()

    def variable_name(self, node: tree_sitter.Node) -> str:
        return self.text(node).lstrip("$@").lower()

    def scope_of(self, node: tree_sitter.Node) -> tree_sitter.Node:
        while node.parent is not None:
            node = node.parent
            if node.type == "function_statement":
                return node
        return self.root

    def parameters(self, function: tree_sitter.Node) -> list[str]:
        """Names of a function's declared parameters, in order (function F([string]$A, $B))."""
        declaration = _first(function, "function_parameter_declaration")
        return [self.variable_name(v) for v in self.nodes("variable", under=declaration)] if declaration is not None else []

    def function_name(self, function: tree_sitter.Node) -> str:
        return self.text(_child(function, "function_name")).lower()

    def member_name(self, access: tree_sitter.Node) -> str:
        """The member of a member access or method call ($v.Password, $hash.ComputeHash(...)), lower case."""
        return self.text(_child(access, "member_name")).lower()

    def function_named(self, name: str) -> tree_sitter.Node | None:
        return next((f for f in self.nodes("function_statement") if self.function_name(f) == name.lower()), None)

    def calls_of(self, function: tree_sitter.Node) -> list[tree_sitter.Node]:
        name = self.function_name(function)
        return [c for c in self.nodes("command") if self.command_name(c) == name]

    def positional(self, command: tree_sitter.Node) -> list[tree_sitter.Node]:
        """The positional arguments of a call (no -Name parameters in these scripts' own function calls)."""
        return [e for e in self.command_elements(command) if e.type not in {"command_parameter", "redirection"}]

    def enclosing_function(self, node: tree_sitter.Node) -> tree_sitter.Node | None:
        return _ancestor(node, "function_statement")

    def string_value(self, node: tree_sitter.Node) -> str | None:
        literal = node if node.type == "string_literal" else _only_descendant(node, "string_literal")
        if literal is None or any(child.type == "variable" for child in self.nodes("variable", under=literal)):
            return None
        return self.text(literal)[1:-1]

    # -- secrets ---------------------------------------------------------------------------------
    def secrets(self) -> None:
        key_variables = {
            self.variable_name(_first(assignment, "left_assignment_expression") or assignment)
            for assignment in self.nodes("assignment_expression")
            if PROVIDER_KEY.search(self.text(assignment.children[-1]))
            and _only_descendant(assignment.children[-1], "string_literal") is not None
        }
        for command in self.nodes("command"):
            if self.command_name(command) not in REGISTRY_READS:
                continue
            arguments = " ".join(self.text(element) for element in self.command_elements(command))
            mentions_variable = any(re.search(r"\$" + re.escape(name) + r"\b", arguments, re.IGNORECASE) for name in key_variables)
            if PROVIDER_KEY.search(arguments) or mentions_variable:
                self._provider_read(command)
        self._digest_function()

    def _provider_read(self, command: tree_sitter.Node) -> None:
        if self._compared_with_null(command):
            return  # an existence check: ($null -eq (Get-Item ...))
        assignment = _ancestor(command, "assignment_expression", stop="statement_list")
        target = _first(assignment, "left_assignment_expression") if assignment is not None else None
        variable = _only_descendant(target, "variable")
        if target is None or variable is None or _first_deep(target, "element_access", "member_access"):
            self.flag("secrets", command, "the provider's registry values are used without going through a variable whose uses are checked")
            return
        name = self.variable_name(variable)
        for use in self.nodes("variable", under=self.scope_of(command)):
            if self.variable_name(use) == name and not _inside(use, target) and use.start_byte > command.start_byte \
                    and _ancestor(use, "left_assignment_expression", stop="pipeline") is None:
                self._provider_value_use(use)

    def _provider_value_use(self, use: tree_sitter.Node) -> None:
        parent = _parent(use)
        if parent.type == "element_access" and parent.children[0] == use:
            names = self._index_names(parent)
            if names is None or names & SECRET_VALUES:
                self._digest_only(parent)
        elif parent.type == "member_access" and parent.children[0] == use:
            if self.member_name(parent) in SECRET_VALUES:
                self._digest_only(parent)
        elif parent.type == "invocation_expression" and self.member_name(parent) in {"containskey", "contains"}:
            return
        elif parent.type == "unary_expression" and _parent(parent).type == "comparison_expression" and "$null" in self.text(_parent(parent)).lower():
            return
        else:
            self.flag("secrets", parent, "the provider's registry values leave as a whole")

    def _index_names(self, access: tree_sitter.Node) -> set[str] | None:
        index = access.children[2]
        value = self.string_value(index)
        if value is not None:
            return {value.lower()}
        variable = _only_descendant(index, "variable")
        if variable is None:
            return None
        loop: tree_sitter.Node | None = access
        while (loop := _ancestor(loop, "foreach_statement")) is not None:
            loop_variable = _first(loop, "variable")
            if loop_variable is not None and self.variable_name(loop_variable) == self.variable_name(variable):
                literals = [self.string_value(item) for item in self.nodes("string_literal", under=_first(loop, "pipeline"))]
                collection = _first(loop, "pipeline")
                if any(v is None for v in literals) or _first_deep(collection, "variable", "command", "invocation_expression"):
                    return None
                return {v.lower() for v in literals if v is not None}
        return None

    def _digest_only(self, access: tree_sitter.Node) -> None:
        """A (possibly) secret value may be hashed, compared, or written back to the provider key; nothing else."""
        if self._compared(access):
            return
        holder = access.parent  # access -> unary -> command_elements -> command
        command = holder.parent.parent if holder is not None and holder.parent is not None else None
        if command is not None and command.type == "command":
            name = self.command_name(command)
            if name == DIGEST_FUNCTION or (name in self._write_back_functions()):
                return
        self.flag("secrets", access, "a provider secret is used other than to hash it, compare it or write it back to the provider key")

    def _compared(self, node: tree_sitter.Node) -> bool:
        """The value is an operand of a comparison (optionally cast: [string]$v[$n] -ne ...)."""
        current = node.parent
        while current is not None and current.type in {"unary_expression", "cast_expression", "expression_with_unary_operator"}:
            current = current.parent
        return current is not None and current.type == "comparison_expression"

    def _compared_with_null(self, command: tree_sitter.Node) -> bool:
        parenthesized = _ancestor(command, "parenthesized_expression", stop="statement_list")
        return parenthesized is not None and self._compared(parenthesized) and "$null" in self.text(_parent(_parent(parenthesized))).lower()

    def _write_back_functions(self) -> set[str]:
        """Functions whose every command writes one value to the provider key (New-ItemProperty -LiteralPath <provider key>)."""
        found = set()
        for function in self.nodes("function_statement"):
            commands = list(self.nodes("command", under=function))
            key_ok = all(self.command_name(c) == "new-itemproperty" and PROVIDER_KEY.search(self._key_of(c)) for c in commands)
            if commands and key_ok:
                found.add(self.function_name(function))
        return found

    def _key_of(self, command: tree_sitter.Node) -> str:
        value = self.parameter_value(command, "literalpath")
        if value is None:
            return ""
        literal = self.string_value(value)
        if literal is not None:
            return literal
        name = self.variable_name(value)
        assigned = [a for a in self.nodes("assignment_expression") if self.variable_name(_first(a, "left_assignment_expression") or a) == name]
        return " ".join(self.text(a.children[-1]) for a in assigned)

    def _digest_function(self) -> None:
        for function in self.nodes("function_statement"):
            if self.function_name(function) != DIGEST_FUNCTION:
                continue
            # function Get-TextDigest($Text): the first variable of the statement is its parameter.
            parameter = next(self.nodes("variable", under=function), None)
            for use in self.nodes("variable", under=function):
                if parameter is not None and use != parameter and self.variable_name(use) == self.variable_name(parameter) and not self._hashed(use):
                    self.flag("secrets", use, "the digest function uses its input other than to test it for empty and hash it")

    def _hashed(self, use: tree_sitter.Node) -> bool:
        node: tree_sitter.Node | None = use
        while (node := _ancestor(node, "invocation_expression")) is not None:
            if self.member_name(node) in {"computehash", "isnullorempty"}:
                return True
        return False

    # -- injection -------------------------------------------------------------------------------
    def injection(self) -> None:
        for command in self.nodes("command"):
            name = self.command_name(command)
            operator = _first(command, "command_invocation_operator")
            if operator is not None:
                target = _first(command, "command_name_expr") or _first(command, "command_name")
                if target is None or target.type != "command_name_expr" or (
                        _first_deep(target, "script_block_expression") is None and not self._script_block_parameter(command, target)):
                    self.flag("injection", command, f"'{self.text(operator)}' runs something other than a literal script block")
            elif name in CODE_FROM_TEXT_COMMANDS:
                self.flag("injection", command, f"{name} runs text as code or as a command line")
            elif name == "add-type" and self.parameter_value(command, "typedefinition") is not None:
                self.flag("injection", command, "Add-Type -TypeDefinition compiles text")
            elif NATIVE.search(name):
                self._native_arguments(command)
        for invocation in self.nodes("invocation_expression", "member_access"):
            member = self.static_member(invocation) if invocation.type == "invocation_expression" else None
            if member in CODE_FROM_TEXT_MEMBERS:
                self.flag("injection", invocation, CODE_FROM_TEXT_MEMBERS[member])
            if re.search(r"\.InvokeScript\b|\$ExecutionContext\.InvokeCommand", self.text(invocation), re.IGNORECASE):
                self.flag("injection", invocation, "runs text as code")

    def _script_block_parameter(self, command: tree_sitter.Node, target: tree_sitter.Node) -> bool:
        """& $Action, where $Action is a [scriptblock] parameter and every caller passes a literal script block."""
        variable = _only_descendant(target, "variable")
        function = self.enclosing_function(command)
        if variable is None or function is None:
            return False
        parameters = self.parameters(function)
        name = self.variable_name(variable)
        if name not in parameters or "[scriptblock]$" + name not in self.text(function).lower().replace(" ", ""):
            return False
        index = parameters.index(name)
        calls = self.calls_of(function)
        return bool(calls) and all(len(self.positional(c)) > index and _only_descendant(self.positional(c)[index], "script_block_expression")
                                   is not None for c in calls)

    def _native_arguments(self, command: tree_sitter.Node) -> None:
        for element in self.command_elements(command):
            if element.type == "redirection" or element.type == "generic_token":
                continue
            text = self.text(element)
            if re.fullmatch(r"[@$]\w+", text):
                # A splatted array, or one variable: PowerShell passes each as its own argument(s), never
                # as text that a shell or PowerShell parses again (unlike a joined string or an expression).
                continue
            if self.string_value(element) is not None:
                continue
            self.flag("injection", element, "a native command line carries a value that is not an argument-array element")

    # -- clean-up --------------------------------------------------------------------------------
    def file_writes(self, temp_files: tuple[str, ...]) -> None:
        for invocation in self.nodes("invocation_expression"):
            member = self.static_member(invocation)
            if member in FILE_WRITES:
                self._temp_write(invocation, self._first_argument(invocation), temp_files)
        for command in self.nodes("command"):
            if self.command_name(command) in FILE_WRITE_COMMANDS:
                self.flag("clean-up", command, "writes a file in place instead of a temporary file renamed over it")

    def _first_argument(self, invocation: tree_sitter.Node) -> tree_sitter.Node | None:
        arguments = _first_deep(invocation, "argument_expression")
        return _only_descendant(arguments, "variable") if arguments is not None else None

    def _temp_write(self, write: tree_sitter.Node, path: tree_sitter.Node | None, temp_files: tuple[str, ...], depth: int = 0) -> None:
        function = self.enclosing_function(write)
        if path is not None and function is not None and depth < 3 and self.variable_name(path) in self.parameters(function):
            # A helper that writes the path it is given: the property holds at each of its calls.
            index = self.parameters(function).index(self.variable_name(path))
            calls = self.calls_of(function)
            if not calls:
                self.flag("clean-up", write, "a helper writes a file but nothing calls it, so nothing proves its path is a temporary file")
            for call in calls:
                arguments = self.positional(call)
                argument = _only_descendant(arguments[index], "variable") if len(arguments) > index else None
                self._temp_write(call, argument, temp_files, depth + 1)
            return
        if path is None or self.variable_name(path) not in temp_files:
            self.flag("clean-up", write, "writes a file that is not a declared temporary file")
            return
        name = self.variable_name(path)
        node: tree_sitter.Node | None = write
        while (node := _ancestor(node, "try_statement")) is not None:
            body = _first(node, "statement_block")
            if not _inside(write, body):
                continue
            handlers = [c for c in self.nodes("catch_clause", under=node) if _parent(_parent(c)) == node and _first(c, "catch_type_list") is None]
            handlers += [f for f in node.children if f.type == "finally_clause"]
            if any(self._deletes(handler, name) and self._rethrows_or_finally(handler) for handler in handlers):
                return
        self.flag("clean-up", write, f"the temporary file ${name} is not deleted on every failure path")

    def _deletes(self, handler: tree_sitter.Node, name: str) -> bool:
        for invocation in self.nodes("invocation_expression", under=handler):
            argument = self._first_argument(invocation)
            if self.static_member(invocation) == ("system.io.file", "delete") and argument is not None and self.variable_name(argument) == name:
                return True
        return False

    def _rethrows_or_finally(self, handler: tree_sitter.Node) -> bool:
        return handler.type == "finally_clause" or any(self.text(s).startswith("throw") for s in self.nodes("flow_control_statement", under=handler))

    def drive_cleanup(self) -> None:
        drives = [c for c in self.nodes("command") if self.command_name(c) == "new-psdrive"]
        if not drives:
            self.violations.append(Violation("clean-up", 0, "the operation declares a drive but maps none"))
        for command in drives:
            removal = self._protecting_removal(command, self._drive_names(command))
            function = self.enclosing_function(command)
            if removal is None and function is not None and self._returns_drive(function, command):
                # Mapped by a helper that hands the drive to its callers: each call must be protected.
                calls = self.calls_of(function)
                removals = [self._protecting_removal(call, self._drive_names(call)) for call in calls]
                if calls and all(r is not None for r in removals):
                    for found in removals:
                        if found is not None and not self._quiet(found):
                            self.flag("clean-up", found, "an error removing the drive would replace the operation's own outcome")
                    continue
            if removal is None:
                self.flag("clean-up", command, "the drive is not removed in the finally of a try that directly follows it")
            elif not self._quiet(removal):
                self.flag("clean-up", removal, "an error removing the drive would replace the operation's own outcome")

    def connection_cleanup(self, names: tuple[str, ...]) -> None:
        opened = [a for a in self.nodes("assignment_expression") if self._opens_connection(a, names)]
        for name in names:
            if not any(self._assigned_name(a) == name for a in opened):
                self.violations.append(Violation("clean-up", 0, f"the operation declares the connection ${name} but never opens it"))
        for assignment in opened:
            if not self._disposed_on_every_path(assignment, self._assigned_name(assignment)):
                self.flag("clean-up", assignment, "the connection is not disposed in the finally of a try around it or directly after it")

    def _assigned_name(self, assignment: tree_sitter.Node) -> str:
        target = _only_descendant(_first(assignment, "left_assignment_expression"), "variable")
        return self.variable_name(target) if target is not None else ""

    def _opens_connection(self, assignment: tree_sitter.Node, names: tuple[str, ...]) -> bool:
        value = _first_deep(assignment.children[-1], "invocation_expression")
        member = self.static_member(value) if value is not None else None
        return self._assigned_name(assignment) in names and member is not None and member[1] == "new"

    def _disposed_on_every_path(self, assignment: tree_sitter.Node, name: str) -> bool:
        """Opened inside a try whose finally disposes it, or followed (after constant assignments only) by such a try."""
        current: tree_sitter.Node | None = assignment
        while current is not None and not (current.parent is not None and current.parent.type == "statement_list"):
            current = current.parent
        statements = current.parent if current is not None else None
        if current is None or statements is None:
            return False
        following = statements.children[statements.children.index(current) + 1:]
        for sibling in following:
            if sibling.type == "try_statement":
                return self._finally_disposes(sibling, name)
            if not self._constant_assignment(sibling):
                break
        node: tree_sitter.Node | None = assignment
        while (node := _ancestor(node, "try_statement") if node is not None else None) is not None:
            if _inside(assignment, _first(node, "statement_block")) and self._finally_disposes(node, name):
                return True
        return False

    def _constant_assignment(self, statement: tree_sitter.Node) -> bool:
        assignment = _first_deep(statement, "assignment_expression")
        if assignment is None or _first_deep(assignment, "element_access", "member_access") is not None:
            return False
        value = self.text(assignment.children[-1]).strip()
        return value == "$null" or self.string_value(assignment.children[-1]) is not None

    def _finally_disposes(self, try_statement: tree_sitter.Node, name: str) -> bool:
        final = next((c for c in try_statement.children if c.type == "finally_clause"), None)
        return final is not None and re.search(r"\$" + re.escape(name) + r"\.Dispose\(\)", self.text(final), re.IGNORECASE) is not None

    def _protecting_removal(self, command: tree_sitter.Node, names: set[str]) -> tree_sitter.Node | None:
        """The Remove-PSDrive in the finally of the try that follows the mapping, with nothing that can fail between.

        A mapping made inside an if (only when credentials are given) may be protected by a try after the if.
        """
        current = command
        while current.parent is not None:
            parent = current.parent
            if parent.type == "statement_list" and parent.parent is not None and parent.parent.type == "statement_block" \
                    and parent.parent.parent is not None and parent.parent.parent.type == "try_statement" \
                    and _first(parent.parent.parent, "statement_block") == parent.parent:
                # Mapped inside a try body: that try's finally may remove the drive.
                found = self._removal_in_finally(parent.parent.parent, names)
                if found is not None:
                    return found
            if parent.type == "statement_list":
                following = parent.children[parent.children.index(current) + 1:]
                for sibling in following:
                    if sibling.type == "try_statement":
                        return self._removal_in_finally(sibling, names)
                    if sibling.type != "function_statement":
                        return None  # something that can fail runs before the drive is protected
                # Inside an if (a conditional mapping) or a try body (a failure reaches the outer finally): look further out.
                conditional = parent.parent is not None and parent.parent.type == "statement_block" \
                    and parent.parent.parent is not None and parent.parent.parent.type in {"if_statement", "try_statement"}
                if not conditional:
                    return None
            current = parent
        return None

    def _returns_drive(self, function: tree_sitter.Node, command: tree_sitter.Node) -> bool:
        """The helper returns the drive's name, and a failed mapping is cleaned up in a catch that rethrows."""
        names = self._drive_names(command)
        returns = [r for r in self.nodes("flow_control_statement", under=function) if self.text(r).lower().startswith("return")]
        hands_back = any(any(self.variable_name(v) in names for v in self.nodes("variable", under=r)) for r in returns)
        guard = _ancestor(command, "try_statement", stop="function_statement")
        cleaned = guard is not None and any(self._rethrows_or_finally(c) for c in self.nodes("catch_clause", under=guard))
        return hands_back and cleaned

    def _drive_names(self, command: tree_sitter.Node) -> set[str]:
        names = {self.variable_name(v) for v in self.nodes("variable", under=self.parameter_value(command, "name") or command) if v.parent is not None}
        assignment = _ancestor(command, "assignment_expression", stop="statement_list")
        if assignment is not None:
            names |= {self.variable_name(v) for v in self.nodes("variable", under=_first(assignment, "left_assignment_expression"))}
        return names

    def _removal_in_finally(self, try_statement: tree_sitter.Node, names: set[str]) -> tree_sitter.Node | None:
        final = next((c for c in try_statement.children if c.type == "finally_clause"), None)
        for command in self.nodes("command", under=final) if final is not None else []:
            value = self.parameter_value(command, "name")
            if self.command_name(command) == "remove-psdrive" and value is not None:
                if {self.variable_name(v) for v in self.nodes("variable", under=value)} & names:
                    return command
            helper = self.function_named(self.command_name(command))
            passed = {self.variable_name(v) for a in self.positional(command) for v in self.nodes("variable", under=a)}
            if helper is not None and passed & names:
                # A helper given the drive (Dismount-StoreShare $drive): its Remove-PSDrive of its parameter.
                removal = next((c for c in self.nodes("command", under=helper) if self.command_name(c) == "remove-psdrive"), None)
                if removal is not None:
                    return removal
        return None

    def _quiet(self, removal: tree_sitter.Node) -> bool:
        action = self.parameter_value(removal, "erroraction")
        if action is not None and self.text(action).strip("'\"").lower() in {"silentlycontinue", "ignore"}:
            return True
        guard = _ancestor(removal, "try_statement", stop="finally_clause")
        return guard is not None and any(c.type == "catch_clauses" for c in guard.children)

    # -- guards ----------------------------------------------------------------------------------
    def guard(self, guard: Guard) -> None:
        protected = [n for n in self.nodes("invocation_expression", "command") if any(re.search(p, self.text(n)) for p in guard.protects)]
        if not protected:
            self.violations.append(Violation("guards", 0, f"nothing matches the protected calls of {guard.check!r}"))
        for node in protected:
            if not self._dominated(node, re.compile(guard.check)):
                self.flag("guards", node, f"not preceded by its guard {guard.check!r} ({guard.why})")

    def _dominated(self, node: tree_sitter.Node, check: re.Pattern[str], depth: int = 0) -> bool:
        current = node
        while current.parent is not None:
            if current.type == "function_statement":
                # Not guarded inside the helper: then every call of the helper must be.
                calls = self.calls_of(current)
                return depth < 3 and bool(calls) and all(self._dominated(call, check, depth + 1) for call in calls)
            parent = current.parent
            if parent.type == "statement_list":
                earlier = parent.children[: parent.children.index(current)]
                if any(check.search(self.text(statement)) for statement in earlier if statement.type != "function_statement"):
                    return True
            if parent.type == "if_statement" and current.type == "statement_block" and _first(parent, "statement_block") == current:
                if check.search(self.text(_child(parent, "pipeline"))):
                    return True
            current = parent
        return False


def _first(node: tree_sitter.Node | None, kind: str) -> tree_sitter.Node | None:
    if node is None:
        return None
    return next((child for child in node.children if child.type == kind), None)


def _first_deep(node: tree_sitter.Node | None, *kinds: str) -> tree_sitter.Node | None:
    stack = list(node.children) if node is not None else []
    while stack:
        current = stack.pop(0)
        if current.type in kinds:
            return current
        stack[:0] = current.children
    return None


def _child(node: tree_sitter.Node, kind: str) -> tree_sitter.Node:
    """The child of that kind that the grammar always gives such a node (a function's name, a member access's member)."""
    found = _first(node, kind)
    if found is None:
        raise ValueError(f"tree-sitter-pwsh gave a {node.type} without its {kind} (line {node.start_point[0] + 1})")
    return found


def _parent(node: tree_sitter.Node) -> tree_sitter.Node:
    """The parent of a node below the root (every node these checks walk up from)."""
    if node.parent is None:
        raise ValueError(f"tree-sitter-pwsh gave a {node.type} without a parent (line {node.start_point[0] + 1})")
    return node.parent


def _only_descendant(node: tree_sitter.Node | None, kind: str) -> tree_sitter.Node | None:
    """The node of that kind when it is all there is (wrapped in unary/pipeline layers), else None."""
    while node is not None:
        if node.type == kind:
            return node
        named = [c for c in node.children if c.type not in {"(", ")", "command_argument_sep"}]
        node = named[0] if len(named) == 1 else None
    return None


def _ancestor(node: tree_sitter.Node | None, kind: str, stop: str | None = None) -> tree_sitter.Node | None:
    current = node.parent if node is not None else None
    while current is not None:
        if current.type == kind:
            return current
        if stop is not None and current.type == stop:
            return None
        current = current.parent
    return None


def _inside(node: tree_sitter.Node, container: tree_sitter.Node | None) -> bool:
    return container is not None and container.start_byte <= node.start_byte and node.end_byte <= container.end_byte


# -- the loaders (host_ops.CACHED_LOADER, host_ops.SENDING_LOADER) ------------------------------------
# The one place code is built from text: each loader runs, with Invoke-Expression, the script bytes it
# holds in $b. Those bytes come from the collection (sent on stdin, or kept by an earlier sending call)
# and are run only in full language mode, and a kept file only when its SHA-256 is the digest asked
# for. A digest becomes part of a file path only once it has matched 64 hex digits, and the
# parameters line ($i[2]) is never touched by a loader: only the kept script reads it, as JSON.

LOADER_RUN = "iex([Text.Encoding]::ASCII.GetString($b))"
_HEX_GUARD = re.compile(r"^(\$\w+|\$i\[1\])\s*-match\s*'\^\[0-9a-f\]\{64\}\$'$")
_DIGEST_CHECK = re.compile(r"ComputeHash\(\$b\)\).*-eq\s*\$h\b", re.DOTALL)


def loader_violations(source: str, *, runs_kept_file: bool) -> list[str]:
    """What a loader does that it must not (an empty list when it is safe)."""
    root, data = parse(source)
    if root.has_error:
        return ["does not parse"]
    found = _Checker(root, data)
    text = found.text
    violations = []
    runs = [node for node in found.nodes("command") if found.command_name(node) in {"iex", "invoke-expression"}]
    if not runs:
        violations.append("runs nothing")
    for run in runs:
        if text(run) != LOADER_RUN:
            violations.append(f"runs something other than the script bytes in $b: {text(run)}")
        if not _after_language_check(run, text):
            violations.append("runs code outside the full-language branch")
        if runs_kept_file and not _guarded_by(run, text, _DIGEST_CHECK):
            violations.append("runs kept bytes without comparing their SHA-256 with the digest")
    for call in found.nodes("invocation_expression"):
        if re.search(r"File\]::(ReadAllBytes|WriteAllBytes)", text(call)) and not _guarded_by(call, text, _HEX_GUARD):
            violations.append(f"builds a path from a digest that was not checked to be 64 hex digits: {text(call)[:60]}")
    if "$i[2]" in source:
        violations.append("touches the parameters line ($i[2]): only the kept script reads it, as data")
    return violations


def _guarded_by(node: tree_sitter.Node, text: t.Callable[[tree_sitter.Node], str], condition: re.Pattern[str]) -> bool:
    """Inside the then-block of an if whose condition matches: stricter than _Checker._dominated, where an earlier
    statement that matches also counts (a guard that throws); a comparison only protects the block it opens."""
    current = node
    while current.parent is not None:
        parent = current.parent
        if parent.type == "if_statement" and _first(parent, "statement_block") == current and condition.search(text(_child(parent, "pipeline"))):
            return True
        current = parent
    return False


def _after_language_check(node: tree_sitter.Node, text: t.Callable[[tree_sitter.Node], str]) -> bool:
    """Inside the else branch of ``if($l -ne 'FullLanguage')``."""
    clause = _ancestor(node, "else_clause")
    while clause is not None:
        condition = _first(_parent(clause), "pipeline")
        if condition is not None and re.fullmatch(r"\$l\s*-ne\s*'FullLanguage'", text(condition)):
            return True
        clause = _ancestor(clause, "else_clause")
    return False
