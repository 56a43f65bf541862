"""Registry of emulated operations: one Python function per shipped PowerShell script."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import typing as t

from ..network import Network


@dataclasses.dataclass
class OpContext:
    host: str
    state: dict[str, t.Any]
    network: Network
    params: dict[str, t.Any]
    events: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)

    def log(self, event: str, **details: t.Any) -> None:
        """Record a step inside the operation, so tests can check ordering (make-before-break)."""
        self.events.append({"event": event, **details})


Operation = t.Callable[[OpContext], t.Any]
OPERATIONS: dict[str, Operation] = {}


def operation(name: str) -> t.Callable[[Operation], Operation]:
    def register(func: Operation) -> Operation:
        if name in OPERATIONS:
            raise RuntimeError(f"operation {name} registered twice")
        OPERATIONS[name] = func
        return func

    return register


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
