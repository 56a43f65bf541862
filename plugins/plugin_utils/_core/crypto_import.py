# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``cryptography`` names the controller code uses, imported in one place.

ansible-test's import check (and a controller without cryptography) must be able to load every
plugin, so a missing package cannot fail an import. Here it fails the first use instead: each name
then stands for a placeholder whose every attribute raises MissingCryptography (a ModuleFailure, so
the task fails with a message saying what to install, never a NameError). Code that must report
the problem in its own terms (an error naming the option) checks missing_cryptography() first.

Use: ``from ansible_collections.iis.ccs.plugins.plugin_utils._core.crypto_import import x509``.
"""

from __future__ import annotations

import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import ModuleFailure

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError as _import_error:  # pragma: no cover - the test environments have cryptography (a subprocess test hides it)
    CRYPTOGRAPHY_IMPORT_ERROR: ImportError | None = _import_error
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

__all__ = [
    "CRYPTOGRAPHY_IMPORT_ERROR", "ExtendedKeyUsageOID", "InvalidSignature", "MissingCryptography", "NameOID", "UnsupportedAlgorithm",
    "dsa", "ec", "ed448", "ed25519", "hashes", "missing_cryptography", "pkcs12", "rsa", "serialization", "x448", "x509", "x25519",
]


class MissingCryptography(ModuleFailure):
    """cryptography is not installed on the controller, and a task needed it."""


def missing_cryptography() -> str | None:
    """What to install, when cryptography cannot be imported; None when it can."""
    if CRYPTOGRAPHY_IMPORT_ERROR is None:
        return None
    return (
        "the Python package 'cryptography' (41 or later) is needed on the Ansible controller to handle certificates; "
        f"install it in the controller's Python environment ({CRYPTOGRAPHY_IMPORT_ERROR})"
    )


class _Missing:
    """Stands for a cryptography module that could not be imported: using it says what to install."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> t.Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)  # introspection (copy, pickle, inspect) sees a plain object
        raise MissingCryptography(f"{missing_cryptography()} (needed for {self._name}.{attribute})")


if not t.TYPE_CHECKING and CRYPTOGRAPHY_IMPORT_ERROR is not None:  # pragma: no cover - see the subprocess test
    x509, hashes, serialization, pkcs12 = _Missing("x509"), _Missing("hashes"), _Missing("serialization"), _Missing("pkcs12")
    dsa, ec, ed448, ed25519, rsa, x448, x25519 = (_Missing(name) for name in ("dsa", "ec", "ed448", "ed25519", "rsa", "x448", "x25519"))
    ExtendedKeyUsageOID, NameOID = _Missing("ExtendedKeyUsageOID"), _Missing("NameOID")

    # Exception classes stay classes, so an `except InvalidSignature:` clause still evaluates; nothing raises them.
    class InvalidSignature(Exception):
        pass

    class UnsupportedAlgorithm(Exception):
        pass
