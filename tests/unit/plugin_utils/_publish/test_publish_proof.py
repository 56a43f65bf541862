"""ccs_cert_publish's short path: identical source bytes skip the full load, and nothing that protects users is lost.

Each test publishes real certificates to local store folders with the task logic and counts the calls of the
source loaders (load_pfx / load_pem), never the time.
"""

from __future__ import annotations

import datetime
import sys
import typing as t
from pathlib import Path

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_CERT_PUBLISH
from ansible_collections.iis.ccs.plugins.plugin_utils._core import dns_names
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import ModuleFailure, TaskContext, UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx import mac
from ansible_collections.iis.ccs.plugins.plugin_utils._publish import proof, source, task
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.plan import Publication
from ansible_collections.iis.ccs.plugins.plugin_utils._store import records as store_records
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import RECORD_PREFIX, FolderStore, LocalFileSystem, StoreError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_audit"))

from audit_helpers import Ca as SharedTestCa  # noqa: E402

SOURCE_PASSWORD = "Source-Pw-1"
STORE_PASSWORD = "Store-Pw-1"


class Ca(SharedTestCa):
    """The audit tests' CA, which also writes PFX sources."""

    def pfx(self, path: Path, *names: str, days: float = 200, key: t.Any = None, certificate_key: t.Any = None) -> Path:
        """A PFX of a new leaf; certificate_key puts a different key in the file than the certificate's."""
        cert, leaf_key = self.issue(*names, days=days, key=key)
        protection = serialization.BestAvailableEncryption(SOURCE_PASSWORD.encode())
        if certificate_key is not None:  # cryptography will not pair them as key and certificate: the certificate goes with the chain
            path.write_bytes(pkcs12.serialize_key_and_certificates(b"leaf", certificate_key, None, [cert, self.cert], protection))
        else:
            path.write_bytes(pkcs12.serialize_key_and_certificates(b"leaf", leaf_key, cert, [self.cert], protection))
        return path


@pytest.fixture(scope="module")
def ca() -> Ca:
    return Ca()


class Loads:
    """Counts full loads of sources (the expensive step the short path skips)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        for name in ("load_pfx", "load_pem"):
            original = getattr(source, name)
            monkeypatch.setattr(source, name, self._counting(original))

    def _counting(self, original: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            self.count += 1
            return original(*args, **kwargs)

        return wrapper

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> Loads:
    return Loads(monkeypatch)


def run(args: t.Mapping[str, t.Any], *, check_mode: bool = False, diff: bool = False) -> dict[str, t.Any]:
    validation = ArgumentSpecValidator(**CCS_CERT_PUBLISH).validate(dict(args))
    assert not validation.error_messages, validation.error_messages
    context = TaskContext(validation.validated_parameters, check_mode, diff, "localhost", {})
    return task.run_publish(context, HostOperationRunner(None, "localhost"))  # type: ignore[arg-type]


def store(*folders: Path, **extra: t.Any) -> dict[str, t.Any]:
    for folder in folders:
        folder.mkdir(exist_ok=True)
    return {"destinations": [{"type": "local", "path": str(f), "name": f.name} for f in folders], "private_key_password": STORE_PASSWORD, **extra}


def pfx_args(path: Path, *folders: Path, **extra: t.Any) -> dict[str, t.Any]:
    return {"pfx_path": str(path), "pfx_password": SOURCE_PASSWORD, **store(*folders), **extra}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def records(folder: Path) -> dict[str, dict[str, t.Any]]:
    """Every file's record, as the one reader (StoreListing.view) sees them."""
    return t.cast(dict[str, dict[str, t.Any]], FolderStore(LocalFileSystem(str(folder))).read().view()["files"])


def without_load_count(result: dict[str, t.Any]) -> dict[str, t.Any]:
    """The result without what depends on the path taken: the load count, and the listing bytes (a
    loaded certificate's files are looked up by exact name, one still to be decided may be searched for)."""
    replicas = [{key: value for key, value in replica.items() if key != "other_bytes"} for replica in result["replicas"]]
    return {key: value for key, value in result.items() if key != "sources_loaded"} | {"replicas": replicas}


# ---------------------------------------------------------------- the MAC check


def test_mac_check_tells_the_right_password_from_a_wrong_one(ca: Ca, tmp_path: Path) -> None:
    data = ca.pfx(tmp_path / "a.pfx", "a.example.test").read_bytes()
    assert mac.verify_pfx_mac(data, SOURCE_PASSWORD) is True
    assert mac.verify_pfx_mac(data, SOURCE_PASSWORD + "x") is False
    assert mac.verify_pfx_mac(data, None) is False


@pytest.mark.parametrize("mac_hash", [hashes.SHA1(), hashes.SHA256(), hashes.SHA512()])
@pytest.mark.parametrize("password", ["plain", "Pässwörd-€-😀"])
def test_mac_check_agrees_with_openssl_for_each_hash_and_non_ascii_passwords(mac_hash: hashes.HashAlgorithm, password: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    protection = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2048).hmac_hash(mac_hash).build(password.encode())
    data = pkcs12.serialize_key_and_certificates(b"x", key, None, None, protection)
    pkcs12.load_pkcs12(data, password.encode())  # OpenSSL accepts it: the MAC is right
    assert mac.verify_pfx_mac(data, password) is True
    assert mac.verify_pfx_mac(data, password[:-1]) is False


CORPUS_PFX = ["leaf-rsa.3des.pfx", "leaf-rsa.aes256.pfx", "leaf-rsa.openssl-3des.pfx", "leaf-rsa.openssl-aes256.pfx", "leaf-rsa.openssl-legacy.pfx"]


@pytest.mark.parametrize("name", CORPUS_PFX)
def test_mac_check_reads_the_corpus_files_of_cryptography_and_the_openssl_cli(cert_corpus: t.Any, name: str) -> None:
    if "openssl" in name:
        cert_corpus.require_openssl()
    data = cert_corpus.path(name).read_bytes()
    assert mac.verify_pfx_mac(data, cert_corpus.PFX_PASSWORD) is True
    assert mac.verify_pfx_mac(data, cert_corpus.PFX_PASSWORD + "-not") is False
    assert mac.verify_pfx_mac(cert_corpus.path("truncated.pfx").read_bytes(), cert_corpus.PFX_PASSWORD) is None


def test_mac_check_cannot_tell_without_a_mac_or_with_an_unknown_algorithm(ca: Ca, tmp_path: Path) -> None:
    data = ca.pfx(tmp_path / "a.pfx", "a.example.test").read_bytes()
    sha256_oid = bytes.fromhex("0609608648016503040201")
    assert data.count(sha256_oid) >= 1
    # The MAC's DigestInfo is the last SHA-256 AlgorithmIdentifier; an unknown OID of the same length stands in for PBMAC1 and friends.
    at = data.rindex(sha256_oid)
    unknown = data[:at] + bytes.fromhex("06096086480165030402ff") + data[at + len(sha256_oid) :]
    assert mac.verify_pfx_mac(unknown, SOURCE_PASSWORD) is None
    assert mac.verify_pfx_mac(b"not a pfx", SOURCE_PASSWORD) is None
    assert mac.verify_pfx_mac(_without_mac(data), SOURCE_PASSWORD) is None


def _without_mac(data: bytes) -> bytes:
    """The same PFX with its macData removed (what `openssl pkcs12 -nomac` writes)."""
    from ansible_collections.iis.ccs.plugins.plugin_utils._pfx import der

    top = der._tlv(data, 0)
    _version, auth_safe, _mac = der._children(data, top[1], top[2])
    body = data[top[1] : auth_safe[2]]
    length = len(body)
    header = bytes([0x30, 0x82]) + length.to_bytes(2, "big") if length > 255 else bytes([0x30, 0x81, length])
    return header + body


# ---------------------------------------------------------------- the short path in a task


def test_an_unchanged_source_skips_the_key_load(ca: Ca, tmp_path: Path, loads: Loads) -> None:
    source_pfx = ca.pfx(tmp_path / "site.pfx", "www.example.test", "example.test")
    first = run(pfx_args(source_pfx, tmp_path / "r1", tmp_path / "r2"))
    assert first["changed"] and loads.take() == 1 and first["sources_loaded"] == 1
    entry = records(tmp_path / "r1")["www.example.test.pfx"]
    assert entry["source"] == records(tmp_path / "r2")["www.example.test.pfx"]["source"] and entry["names"] == 2
    again = run(pfx_args(source_pfx, tmp_path / "r1", tmp_path / "r2"))
    assert loads.take() == 0 and again["sources_loaded"] == 0
    assert not again["changed"] and all(r["pfx_bytes_read"] == r["pfx_bytes_written"] == 0 for r in again["replicas"])
    assert [f["action"] for f in again["files"]] == ["unchanged", "unchanged"]
    assert again["thumbprint"] == first["thumbprint"] and again["files"][0]["file_name"] == first["files"][0]["file_name"]


def test_pem_sources_with_an_unencrypted_key_take_the_short_path_too(ca: Ca, tmp_path: Path, loads: Loads) -> None:
    cert, key = ca.issue("pem.example.test")
    args = {
        "certificate_content": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "private_key_content": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
        "chain_content": ca.cert.public_bytes(serialization.Encoding.PEM).decode(),
        **store(tmp_path / "r1"),
    }
    run(args)
    assert loads.take() == 1
    assert not run(args)["changed"] and loads.take() == 0


def test_a_wrong_source_password_with_identical_bytes_is_refused(ca: Ca, tmp_path: Path, loads: Loads) -> None:
    source_pfx = ca.pfx(tmp_path / "site.pfx", "www.example.test")
    run(pfx_args(source_pfx, tmp_path / "r1"))
    before = snapshot(tmp_path / "r1")
    with pytest.raises(UserInputError, match="^pfx_password: the password does not decrypt the PFX"):
        run(pfx_args(source_pfx, tmp_path / "r1", pfx_password="Wrong-Pw"))
    assert snapshot(tmp_path / "r1") == before


def test_a_corrupted_source_takes_the_full_path_and_is_refused(ca: Ca, tmp_path: Path, loads: Loads) -> None:
    source_pfx = ca.pfx(tmp_path / "site.pfx", "www.example.test")
    run(pfx_args(source_pfx, tmp_path / "r1"))
    loads.take()
    before = snapshot(tmp_path / "r1")
    data = bytearray(source_pfx.read_bytes())
    data[len(data) // 2] ^= 0x01
    source_pfx.write_bytes(bytes(data))
    with pytest.raises(UserInputError, match="^pfx_(path|password): "):
        run(pfx_args(source_pfx, tmp_path / "r1"))
    assert loads.take() == 1
    assert snapshot(tmp_path / "r1") == before


def test_a_mismatched_key_with_a_valid_mac_is_still_refused(ca: Ca, tmp_path: Path, loads: Loads) -> None:
    source_pfx = ca.pfx(tmp_path / "site.pfx", "www.example.test")
    run(pfx_args(source_pfx, tmp_path / "r1"))
    before = snapshot(tmp_path / "r1")
    # A new file (a new digest) whose MAC is fine but whose key is not the certificate's.
    ca.pfx(source_pfx, "www.example.test", certificate_key=ec.generate_private_key(ec.SECP256R1()))
    assert mac.verify_pfx_mac(source_pfx.read_bytes(), SOURCE_PASSWORD) is True
    with pytest.raises(UserInputError, match="does not belong"):
        run(pfx_args(source_pfx, tmp_path / "r1"))
    assert snapshot(tmp_path / "r1") == before


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ({"host_names": ["www.example.test"]}, {"www.example.test.pfx": "unchanged"}),
        ({"host_names": ["www.example.test", "example.test", "www.example.test"]}, {"www.example.test.pfx": "unchanged", "example.test.pfx": "unchanged"}),
        ({"encryption": "aes256"}, {"www.example.test.pfx": "updated", "example.test.pfx": "updated"}),
    ],
)
def test_a_changed_host_name_list_or_encryption_takes_the_full_path(
    ca: Ca, tmp_path: Path, loads: Loads, change: dict[str, t.Any], expect: dict[str, str]
) -> None:
    source_pfx = ca.pfx(tmp_path / "site.pfx", "www.example.test", "example.test")
    run(pfx_args(source_pfx, tmp_path / "r1"))
    loads.take()
    result = run(pfx_args(source_pfx, tmp_path / "r1", **change))
    assert loads.take() == 1
    assert {f["file_name"]: f["action"] for f in result["files"]} == expect
    # The records now describe the new options: the next run is short again.
    assert not run(pfx_args(source_pfx, tmp_path / "r1", **change))["changed"] and loads.take() == 0


class _Later(datetime.datetime):
    """The task's clock, a year on."""

    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> _Later:
        moment = datetime.datetime.now(tz) + datetime.timedelta(days=365)
        return cls.fromtimestamp(moment.timestamp(), tz)


def test_expiry_still_refuses_on_the_short_path(ca: Ca, tmp_path: Path, loads: Loads, monkeypatch: pytest.MonkeyPatch) -> None:
    source_pfx = ca.pfx(tmp_path / "site.pfx", "www.example.test", days=200)
    run(pfx_args(source_pfx, tmp_path / "r1"))
    loads.take()
    monkeypatch.setattr(task, "datetime", _Later)
    with pytest.raises(UserInputError, match="expired on") as short:
        run(pfx_args(source_pfx, tmp_path / "r1"))
    assert loads.take() == 0
    monkeypatch.setattr(task, "cheap_proof", lambda raw, params: None)
    with pytest.raises(UserInputError, match="expired on") as full:
        run(pfx_args(source_pfx, tmp_path / "r1"))
    assert loads.take() == 1
    assert str(short.value) == str(full.value)


def test_records_of_the_previous_format_take_the_full_path_once(ca: Ca, tmp_path: Path, loads: Loads) -> None:
    source_pfx = ca.pfx(tmp_path / "site.pfx", "www.example.test", "example.test")
    run(pfx_args(source_pfx, tmp_path / "r1"))
    for record_path in (tmp_path / "r1").glob(RECORD_PREFIX + "*"):
        decoded = store_records.decode_record(record_path.name, record_path.read_bytes())
        assert decoded is not None
        file_name, entry = decoded
        for field in ("source", "not_before", "names", "position", "chain_warnings"):
            entry.pop(field, None)
        record_path.write_bytes(store_records.encode_record(file_name, entry)[1])
    loads.take()
    upgraded = run(pfx_args(source_pfx, tmp_path / "r1"))
    assert loads.take() == 1 and not upgraded["changed"] and upgraded["replicas"][0]["manifest_updated"]
    assert upgraded["replicas"][0]["pfx_bytes_written"] == 0
    assert not run(pfx_args(source_pfx, tmp_path / "r1"))["changed"] and loads.take() == 0


def test_a_rotated_store_password_takes_the_full_path_and_rewrites_the_files(ca: Ca, tmp_path: Path, loads: Loads) -> None:
    source_pfx = ca.pfx(tmp_path / "site.pfx", "www.example.test")
    run(pfx_args(source_pfx, tmp_path / "r1"))
    loads.take()
    rotated = run({**pfx_args(source_pfx, tmp_path / "r1"), "private_key_password": "Store-Pw-2"})
    assert loads.take() == 1 and rotated["files"][0]["action"] == "updated"
    pkcs12.load_pkcs12((tmp_path / "r1" / "www.example.test.pfx").read_bytes(), b"Store-Pw-2")


def test_a_file_changed_on_the_share_takes_the_full_path_and_is_restored(ca: Ca, tmp_path: Path, loads: Loads) -> None:
    source_pfx = ca.pfx(tmp_path / "site.pfx", "www.example.test")
    run(pfx_args(source_pfx, tmp_path / "r1"))
    (tmp_path / "r1" / "www.example.test.pfx").write_bytes(b"not a pfx any more")
    loads.take()
    healed = run(pfx_args(source_pfx, tmp_path / "r1"))
    assert loads.take() == 1 and healed["files"][0]["action"] == "updated"
    restored = pkcs12.load_pkcs12((tmp_path / "r1" / "www.example.test.pfx").read_bytes(), STORE_PASSWORD.encode())
    assert restored.cert is not None and restored.cert.certificate.fingerprint(hashes.SHA1()).hex().upper() == healed["thumbprint"]


def test_a_replica_without_records_takes_the_full_path_and_is_healed(ca: Ca, tmp_path: Path, loads: Loads) -> None:
    source_pfx = ca.pfx(tmp_path / "site.pfx", "www.example.test")
    run(pfx_args(source_pfx, tmp_path / "r1"))
    loads.take()
    result = run(pfx_args(source_pfx, tmp_path / "r1", tmp_path / "r2"))
    assert loads.take() == 1
    assert result["files"][0]["replicas"] == {"r1": "unchanged", "r2": "created"}


def test_a_source_with_a_passphrase_protected_pem_key_always_takes_the_full_path(ca: Ca, tmp_path: Path, loads: Loads) -> None:
    cert, key = ca.issue("pem.example.test")
    protection = serialization.BestAvailableEncryption(b"Key-Pass-1")
    args = {
        "certificate_content": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "private_key_content": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, protection).decode(),
        "private_key_passphrase": "Key-Pass-1",
        **store(tmp_path / "r1"),
    }
    run(args)
    assert not run(args)["changed"] and loads.take() == 2
    with pytest.raises(UserInputError, match="private_key_passphrase"):
        run(dict(args, private_key_passphrase="Wrong-1"))


def test_check_mode_and_diff_are_the_same_on_either_path(ca: Ca, tmp_path: Path, loads: Loads, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch with an unchanged certificate, a renewed one and a long expiry warning window (warnings included)."""
    kept = ca.pfx(tmp_path / "kept.pfx", "kept.example.test", "www.kept.example.test", days=60)
    renewed = ca.pfx(tmp_path / "renewed.pfx", "renewed.example.test")
    folders = (tmp_path / "r1", tmp_path / "r2")
    batch = {**store(*folders), "expiry_warning_days": 90, "certificates": [{"pfx_path": str(p), "pfx_password": SOURCE_PASSWORD} for p in (kept, renewed)]}
    run(batch)
    ca.pfx(renewed, "renewed.example.test")
    loads.take()
    short = run(batch, check_mode=True, diff=True)
    assert loads.take() == 1 and short["sources_loaded"] == 1
    monkeypatch.setattr(task, "cheap_proof", lambda raw, params: None)
    full = run(batch, check_mode=True, diff=True)
    assert loads.take() == 2 and full["sources_loaded"] == 2
    assert without_load_count(short) == without_load_count(full)
    assert short["warnings"] and short["diff"]["after"]


def test_a_store_changed_after_the_read_is_not_written_from_records() -> None:
    """The export of a certificate proven from records (never loaded) refuses instead of writing unchecked bytes."""
    exports = task.PfxExports({}, STORE_PASSWORD)
    recorded = proof.Proof("digest", "pfx_path", None, "compatible", STORE_PASSWORD, False)
    publication = Publication((), "T", "I", "2030-01-01T00:00:00Z", recorded.encryption, STORE_PASSWORD, False)
    with pytest.raises(StoreError, match="changed while this task ran"):
        exports(publication)


def test_a_failing_task_reports_the_full_paths_message(ca: Ca, tmp_path: Path) -> None:
    """A batch entry that fails on the full path is named, as before the short path existed."""
    good = ca.pfx(tmp_path / "good.pfx", "good.example.test")
    entries = [{"pfx_path": str(good), "pfx_password": SOURCE_PASSWORD}, {"pfx_path": str(good), "pfx_password": "Wrong"}]
    batch = {**store(tmp_path / "r1"), "certificates": entries}
    with pytest.raises(UserInputError, match=r"^certificates\[1\]\.pfx_password: "):
        run(batch)
    assert not any((tmp_path / "r1").iterdir())
    with pytest.raises(ModuleFailure):
        run({**pfx_args(good, tmp_path / "r1"), "destinations": [{"type": "local", "path": str(tmp_path / "missing"), "name": "x"}]})


# ---------------------------------------------------------------- what the read phase looks up (manifest records)


def _proof(*host_names: str, prune: bool = False) -> proof.Proof:
    names = tuple(dns_names.parse_host_name(name, option="host_names") for name in host_names) or None
    return proof.Proof(digest="d" * 64, option="pfx_path", host_names=names, encryption="AES256-SHA256", key_password=STORE_PASSWORD, prune=prune)


def test_a_certificate_still_to_be_decided_is_looked_up_by_its_host_names_with_every_thumbprint_they_hold() -> None:
    lookup = proof.batch_lookup([], [_proof("WWW.example.test", "example.test")])
    assert lookup is not None
    assert lookup.files == (("example.test.pfx", ""), ("www.example.test.pfx", ""))  # no thumbprint yet: searched by name hash
    found = {"www.example.test.pfx": {"thumbprint": "ab12"}, "other.test.pfx": {"thumbprint": "CD34"}}
    assert lookup.lineage(found) == {"AB12"}  # a renewal must still see the other files of the certificate it supersedes


def test_without_host_names_or_with_prune_the_read_lists_the_folder() -> None:
    assert proof.batch_lookup([], [_proof()]) is None  # its file names are only known from its records
    assert proof.batch_lookup([], [_proof("www.example.test", prune=True)]) is None


def _fill_store(folder: Path, size: int, other: bytes) -> None:
    """size more PFX files in the store, each with a record as publishing leaves it (another certificate's)."""
    for index in range(size):
        name = f"filler{index}.test.pfx"
        (folder / name).write_bytes(other)
        stat = (folder / name).stat()
        entry = {"thumbprint": f"{index:040X}", "identity": "i", "not_after": "2030-01-01T00:00:00Z", "size": stat.st_size, "mtime": stat.st_mtime_ns // 100}
        record_name, record = store_records.encode_record(name, entry)
        (folder / record_name).write_bytes(record)


def _unchanged_traffic(source_pfx: Path, folder: Path, size: int, other: bytes, loads: Loads, **extra: t.Any) -> tuple[int, int, int]:
    run(pfx_args(source_pfx, folder, **extra))
    _fill_store(folder, size, other)
    loads.take()
    result = run(pfx_args(source_pfx, folder, **extra))
    assert not result["changed"] and result["sources_loaded"] == 0 and loads.take() == 0
    replica = result["replicas"][0]
    return replica["other_bytes"], replica["round_trips"], replica["pfx_bytes_read"]


@pytest.mark.parametrize("host_names", [["www.example.test", "example.test"], None])
def test_an_unchanged_short_path_task_reads_the_same_bytes_in_a_small_and_a_large_store(
    ca: Ca, tmp_path: Path, loads: Loads, host_names: list[str] | None
) -> None:
    """A quick load tells its names (without host_names) and thumbprint first, so its records are read by exact name."""
    source_pfx = ca.pfx(tmp_path / "site.pfx", "www.example.test", "example.test")
    other = ca.pfx(tmp_path / "other.pfx", "other.example.test").read_bytes()
    extra = {"host_names": host_names} if host_names else {}
    small = _unchanged_traffic(source_pfx, tmp_path / "small", 8, other, loads, **extra)
    large = _unchanged_traffic(source_pfx, tmp_path / "large", 2000, other, loads, **extra)
    assert len(list((tmp_path / "large").glob("*.pfx"))) == 2002
    assert small == large and small[2] == 0


def _sources_for(paths: list[Path], folder: Path) -> task.Sources:
    args = {"certificates": [{"pfx_path": str(path), "pfx_password": SOURCE_PASSWORD} for path in paths], **store(folder)}
    validation = ArgumentSpecValidator(**CCS_CERT_PUBLISH).validate(args)
    assert not validation.error_messages, validation.error_messages
    return task.Sources(task.certificate_entries(validation.validated_parameters), batch=True, now=datetime.datetime.now(datetime.timezone.utc))


def test_a_batch_too_large_to_look_up_pays_no_quick_loads(ca: Ca, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past LOOKUP_LIMIT files the read lists the folder anyway: previews would only cost time."""
    paths = [ca.pfx(tmp_path / f"site{index}.pfx", f"site{index}.example.test") for index in range(task.LOOKUP_LIMIT + 1)]
    quick_loads: list[bytes] = []
    original = task.quick_load_pfx

    def counting(data: bytes, *args: t.Any, **kwargs: t.Any) -> t.Any:
        quick_loads.append(data)
        return original(data, *args, **kwargs)

    monkeypatch.setattr(task, "quick_load_pfx", counting)
    large = _sources_for(paths, tmp_path / "store")
    assert quick_loads == [] and large.previews == {} and large.lookup() is None
    small = _sources_for(paths[:3], tmp_path / "store")
    assert len(quick_loads) == 3 and sorted(small.previews) == [0, 1, 2]
    lookup = small.lookup()
    assert lookup is not None and all(thumbprint for _name, thumbprint in lookup.files)


def test_mutation_without_the_quick_load_a_task_without_host_names_lists_the_folder(
    ca: Ca, tmp_path: Path, loads: Loads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The preview is what keeps its read constant: without it the folder is listed and every record read (docs/developing.md)."""
    source_pfx = ca.pfx(tmp_path / "site.pfx", "www.example.test", "example.test")
    other = ca.pfx(tmp_path / "other.pfx", "other.example.test").read_bytes()
    monkeypatch.setattr(task, "quick_load_pfx", lambda *args, **kwargs: None)
    small = _unchanged_traffic(source_pfx, tmp_path / "small", 8, other, loads)
    large = _unchanged_traffic(source_pfx, tmp_path / "large", 300, other, loads)
    assert large[0] > small[0]


@pytest.mark.parametrize("host_names", [None, ["www.example.test", "example.test"]])
def test_the_preview_reads_records_by_exact_name(ca: Ca, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host_names: list[str] | None) -> None:
    """Like a loaded certificate's: the look-up carries the thumbprint, so no name-hash search or listing is needed."""
    source_pfx = ca.pfx(tmp_path / "site.pfx", "www.example.test", "example.test")
    extra = {"host_names": host_names} if host_names else {}
    run(pfx_args(source_pfx, tmp_path / "store", **extra))
    lookups: list[t.Any] = []
    original = task.Sources.lookup

    def recording(self: task.Sources) -> t.Any:
        lookups.append(original(self))
        return lookups[-1]

    monkeypatch.setattr(task.Sources, "lookup", recording)
    result = run(pfx_args(source_pfx, tmp_path / "store", **extra))
    assert result["sources_loaded"] == 0 and not result["changed"]
    (lookup,) = lookups
    thumbprint = result["thumbprint"]
    assert lookup is not None and lookup.files == (("example.test.pfx", thumbprint), ("www.example.test.pfx", thumbprint))
