"""A small CCS farm for ccs_verify tests, built straight into the lab's state, served over the lab's real TLS.

Two web nodes (web01, web02) with the CCS provider enabled, reading \\\\fs01\\ccs as LAB\\svc-ccs, the
HTTP.sys ``ccs=0.0.0.0:443`` entry and CCS bindings for www.example.test, *.example.test and the IDN
bücher.example; the store holds the certificate corpus' PFX files for those names (tests/unit/certs/corpus.py).
Tests then change the store, the provider or the bindings, and move the lab clock instead of sleeping.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import typing as t
from pathlib import Path

import yaml
from _lab import Lab
from iis_lab import tls_lab
from iis_lab.inventory import host_definitions, write_lab_hosts
from iis_lab.model import PROVIDER_KEY
from iis_lab.state import HostStore, machine_encrypt, windows_to_local

WEB_NODES = {"web01": "127.0.10.1", "web02": "127.0.10.2"}
READER, READER_PASSWORD = "LAB\\svc-ccs", "Verify-Reader-Canary-7b1e!"
NETWORK = {
    "domain": "LAB",
    "domain_fqdn": "lab.local",
    "accounts": {"LAB\\ansible": "Lab-Ansible-Pa55!", READER: READER_PASSWORD},
    "winrm_users": ["LAB\\ansible"],
    "shares": [{"unc": "\\\\fs01\\ccs", "host": "fs01", "path": "D:\\CCS", "read": [READER]}],
}
# The store files the farm starts with: CCS file name -> corpus PFX.
BASE_FILES = {"www.example.test.pfx": "leaf-rsa.3des.pfx", "_.example.test.pfx": "wildcard.3des.pfx", "bücher.example.pfx": "idn.3des.pfx"}
BASE_HOSTS = ("www.example.test", "*.example.test", "xn--bcher-kva.example")


def https(host: str, flags: int = 3, certificate_hash: str = "") -> dict[str, t.Any]:
    return {"protocol": "https", "binding_information": f"*:443:{host}", "ssl_flags": flags, "certificate_hash": certificate_hash,
            "certificate_store": "My" if certificate_hash else ""}


def inventory() -> dict[str, t.Any]:
    profile = {"features": ["Web-Server", "Web-CertProvider"], "httpsys": {"ccs": ["0.0.0.0:443"]},
               "sites": [{"name": "Default Web Site", "bindings": [https(h) for h in BASE_HOSTS]}]}
    web = {name: {"ansible_host": address, "iis_lab_profile": profile} for name, address in WEB_NODES.items()}
    file_server = {"iis_lab_profile": {"features": [], "sites": [], "directories": ["D:\\CCS"]}}
    return {"all": {"vars": {"ansible_connection": "iis_lab", "iis_lab_network": NETWORK},
                    "children": {"web": {"hosts": web}, "file_servers": {"hosts": {"fs01": file_server}}}}}


@dataclasses.dataclass
class TlsFarm:
    lab: Lab
    corpus: t.Any
    tls: tls_lab.TlsLab
    inventory_path: Path

    @property
    def store(self) -> Path:
        return windows_to_local("fs01", "D:\\CCS")

    @property
    def lab_port(self) -> int:
        return self.tls.port_map[443]

    def put(self, file_name: str, corpus_file: str) -> None:
        shutil.copyfile(self.corpus.path(corpus_file), self.store / file_name)

    def sha256(self, corpus_leaf: str) -> str:
        from cryptography.hazmat.primitives import hashes

        return self.corpus.certificate(corpus_leaf).fingerprint(hashes.SHA256()).hex().upper()

    def edit(self, host: str, change: t.Callable[[dict[str, t.Any]], None]) -> None:
        with HostStore(host).locked() as state:
            change(state)

    def add_binding(self, host: str, binding: dict[str, t.Any]) -> None:
        self.edit(host, lambda state: state["sites"][0]["bindings"].append(binding))

    def set_provider(self, host: str, **values: t.Any) -> None:
        def change(state: dict[str, t.Any]) -> None:
            provider = state["registry"][PROVIDER_KEY]
            for name, value in values.items():
                provider[name] = machine_encrypt(state, value) if name in ("Password", "PrivateKeyPassword") else value

        self.edit(host, change)

    def verify(self, *, hosts: str = "web", check: bool = False, **options: t.Any) -> t.Any:
        """Run ccs_verify on hosts with options (port_map to the lab's TLS port and ca_path to the corpus root by default)."""
        args = {"port_map": {443: self.lab_port}, "ca_path": str(self.corpus.path("root.crt")), "fail_on": "never", **options}
        playbook = yaml.safe_dump([{"hosts": hosts, "gather_facts": False, "tasks": [
            {"name": "verify", "iis.ccs.ccs_verify": args, "register": "verified", "ignore_errors": True}]}], allow_unicode=True)
        return self.lab.run(playbook, inventory=self.inventory_path, check=check)


def build(lab: Lab, corpus: t.Any) -> TlsFarm:
    path = lab.root / "inventory-verify.yml"
    data = inventory()
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    definitions = write_lab_hosts(data)
    for host, definition in host_definitions(data).items():
        with HostStore(host, definition["profile"]).locked() as state:
            if host in WEB_NODES:
                state["registry"][PROVIDER_KEY] = {"Enabled": 1, "CertStoreLocation": "\\\\fs01\\ccs", "UserName": READER,
                                                   "Password": machine_encrypt(state, READER_PASSWORD),
                                                   "PrivateKeyPassword": machine_encrypt(state, corpus.PFX_PASSWORD), "PollingInterval": 300}
    farm = TlsFarm(lab, corpus, tls_lab.TlsLab(definitions, ports=[443], mapped={443: 0}).start(), path)
    for file_name, corpus_file in BASE_FILES.items():
        farm.put(file_name, corpus_file)
    return farm


def checks_by_name(run: t.Any, host: str) -> dict[str, dict[str, t.Any]]:
    return {c["name"]: c for c in run.task("verify", host)["checks"]}


def dump(run: t.Any) -> str:
    return json.dumps([r["result"] for r in run.results], indent=1, default=str)[-6000:] + run.stdout[-3000:]
