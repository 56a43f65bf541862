"""Errors raised by emulated operations; they reach the controller as PowerShell errors would."""

from __future__ import annotations


class WindowsError_(Exception):
    """A terminating PowerShell error: message and .NET exception type."""

    def __init__(self, message: str, error_type: str = "System.InvalidOperationException", *, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        # The id of the documented Windows rule this error enforces (iis_lab/rules.py), if any.
        self.rule = rule


class LabProtocolError(Exception):
    """The controller sent something the real bootstrap or scripts would not accept. Fails loudly."""
