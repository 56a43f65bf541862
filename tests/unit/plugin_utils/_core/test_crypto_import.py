"""cryptography is imported in one place: plugins load without it, and using it then says what to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cryptography.exceptions
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from ansible_collections.iis.ccs.plugins.plugin_utils._core import crypto_import

COLLECTIONS = Path(__file__).resolve().parents[4] / "tests" / "output" / "collections"


def test_with_cryptography_the_names_are_cryptographys_own() -> None:
    assert crypto_import.CRYPTOGRAPHY_IMPORT_ERROR is None and crypto_import.missing_cryptography() is None
    assert crypto_import.x509 is x509 and crypto_import.rsa is rsa
    assert crypto_import.InvalidSignature is cryptography.exceptions.InvalidSignature


WITHOUT_CRYPTOGRAPHY = """
import sys
sys.modules["cryptography"] = None  # every "import cryptography..." raises ImportError, as in ansible-test's import check
sys.path[:0] = [COLLECTIONS]

from ansible_collections.iis.ccs.plugins.plugin_utils._audit import certfile
from ansible_collections.iis.ccs.plugins.plugin_utils._core import crypto_import
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import ModuleFailure
from ansible_collections.iis.ccs.plugins.plugin_utils._verify import judge, request, task

assert crypto_import.CRYPTOGRAPHY_IMPORT_ERROR is not None
assert not hasattr(request.x509, "__path__")  # introspection sees a plain object, not an error
try:
    raise ValueError("not a signature problem")
except crypto_import.InvalidSignature:  # the clause still evaluates
    raise AssertionError("caught the wrong exception")
except ValueError:
    pass
try:
    request.load_anchors(PEM)  # ccs_verify's ca_path: this used to be a NameError
except ModuleFailure as error:
    print(type(error).__name__, error)
"""


def test_without_cryptography_plugins_load_and_using_it_fails_with_what_to_install(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", encoding="ascii")
    code = WITHOUT_CRYPTOGRAPHY.replace("COLLECTIONS", repr(str(COLLECTIONS))).replace("PEM", repr(str(pem)))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("MissingCryptography the Python package 'cryptography' (41 or later) is needed on the Ansible controller"), done.stdout
    assert "(needed for x509.load_pem_x509_certificates)" in done.stdout
