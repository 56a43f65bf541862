"""A small CA and a store builder for the store audit tests: real certificates, real PFX files, published by ccs_cert_publish."""

from __future__ import annotations

import dataclasses
import datetime
import typing as t
from pathlib import Path

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_CERT_PUBLISH, CCS_STORE_INFO
from ansible_collections.iis.ccs.plugins.plugin_utils._audit.task import run_store_info
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import TaskContext
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.task import run_publish

STORE_PASSWORD = "Audit-Store-Key-Canary-7f3e!"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclasses.dataclass
class Pem:
    certificate: str
    key: str
    chain: str


class Ca:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("audit test CA"))
            .issuer_name(_name("audit test CA"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(self, *names: str, days: float = 200, key: t.Any = None) -> tuple[x509.Certificate, t.Any]:
        """A server certificate for names (the first is the subject), valid from yesterday for days; a new EC key unless given."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert, key

    def leaf(self, *names: str, days: float = 200) -> Pem:
        cert, key = self.issue(*names, days=days)
        pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return Pem(cert.public_bytes(serialization.Encoding.PEM).decode(), pem_key.decode(), self.cert.public_bytes(serialization.Encoding.PEM).decode())


def validated(spec: t.Mapping[str, t.Any], args: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    result = ArgumentSpecValidator(**spec).validate(dict(args))
    assert not result.error_messages, result.error_messages
    return t.cast(dict[str, t.Any], result.validated_parameters)


def context(params: dict[str, t.Any], *, check_mode: bool = False) -> TaskContext:
    return TaskContext(params=params, check_mode=check_mode, diff=False, host="localhost", task_vars={})


def local(*folders: Path) -> list[dict[str, t.Any]]:
    return [{"type": "local", "path": str(f), "name": f.name} for f in folders]


def publish(
    ca_pem: Pem,
    host_names: t.Sequence[str],
    *folders: Path,
    encryption: str = "compatible",
    chain: bool = True,
    password: str = STORE_PASSWORD,
    prune: bool = False,
) -> None:
    args = {
        "certificate_content": ca_pem.certificate,
        "private_key_content": ca_pem.key,
        "host_names": list(host_names),
        "destinations": local(*folders),
        "private_key_password": password,
        "encryption": encryption,
        "expiry_warning_days": 0,
        "prune": prune,
    }
    if chain:
        args["chain_content"] = ca_pem.chain
    run_publish(context(validated(CCS_CERT_PUBLISH, args)), HostOperationRunner(None, "localhost"))  # type: ignore[arg-type]


def audit(*folders: Path, check_mode: bool = False, **extra: t.Any) -> dict[str, t.Any]:
    args = {"destinations": local(*folders), "private_key_password": STORE_PASSWORD, **extra}
    return run_store_info(context(validated(CCS_STORE_INFO, args), check_mode=check_mode), HostOperationRunner(None, "localhost"))  # type: ignore[arg-type]


def write_foreign_pfx(path: Path, pem: Pem, password: str = STORE_PASSWORD) -> None:
    """A PFX put in the store by something other than iis.ccs (which refuses expired certificates, for one)."""
    key = serialization.load_pem_private_key(pem.key.encode(), None)
    cert = x509.load_pem_x509_certificate(pem.certificate.encode())
    chain = [x509.load_pem_x509_certificate(pem.chain.encode())]
    protection = serialization.BestAvailableEncryption(password.encode())
    path.write_bytes(pkcs12.serialize_key_and_certificates(None, key, cert, chain, protection))  # type: ignore[arg-type]
