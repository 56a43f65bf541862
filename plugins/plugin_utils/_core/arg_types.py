# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wrong types refused as wrong types, before ansible-core's argument validation converts them.

ansible-core turns a list given for a string option into the list's text ("['a', 'b']"),
which a later check then refuses as a bad path or name; and a dict given for a list option
fails with a message naming ansible-core's internal class. Both confuse more than they
help. This check walks the argument spec first and names the option, the type it expects
and the kind of value it got; it never repeats a value (the option may be a secret).
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

_SCALAR_TYPES = {"str": "a string", "path": "a path (a string)", "int": "an integer", "bool": "a boolean", "float": "a number"}


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "a dictionary"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    return "a single value"


def _is_container(value: object) -> bool:
    return isinstance(value, (Mapping, list, tuple, set))


def _element_errors(name: str, items: t.Sequence[t.Any], spec: Mapping[str, t.Any]) -> list[str]:
    elements = spec.get("elements")
    errors: list[str] = []
    for index, item in enumerate(items):
        where = f"{name}[{index}]"
        if elements in _SCALAR_TYPES and _is_container(item):
            errors.append(f"{where}: expected {_SCALAR_TYPES[elements]}, got {_kind(item)}")
        elif elements == "dict" and item is not None and not isinstance(item, Mapping):
            errors.append(f"{where}: expected a dictionary, got {_kind(item)}")
        elif elements == "dict" and isinstance(item, Mapping) and spec.get("options"):
            errors.extend(wrong_type_errors(spec["options"], item, prefix=where + "."))
    return errors


def _option_errors(name: str, value: t.Any, spec: Mapping[str, t.Any]) -> list[str]:
    wanted = spec.get("type", "str")
    if value is None or not isinstance(wanted, str):
        return []
    if wanted in _SCALAR_TYPES and _is_container(value):
        return [f"{name}: expected {_SCALAR_TYPES[wanted]}, got {_kind(value)}"]
    if wanted == "list":
        if isinstance(value, Mapping):
            return [f"{name}: expected a list, got a dictionary"]
        return _element_errors(name, value, spec) if isinstance(value, (list, tuple)) else []
    if wanted == "dict" and isinstance(value, (list, tuple, set)):
        return [f"{name}: expected a dictionary, got a list"]
    return []


def wrong_type_errors(argument_spec: Mapping[str, t.Any], params: Mapping[str, t.Any], prefix: str = "") -> list[str]:
    """One message per option whose value has the wrong shape: "destinations[0].path: expected a string, got a list"."""
    errors: list[str] = []
    for name, spec in argument_spec.items():
        if name in params:
            errors.extend(_option_errors(prefix + name, params[name], spec))
    return errors
