"""ccs_cert_publish input handling over the generated certificate corpus: every source kind, every refusal,
host-name selection, option checks, and the export/identify round trip idempotency depends on."""

from __future__ import annotations

import base64
import datetime
import typing as t

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.source import prepare
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.task import build_publication, check_options, make_identify, pfx_exporter

NOW = datetime.datetime.now(datetime.timezone.utc)


def params(**values: t.Any) -> dict[str, t.Any]:
    base: dict[str, t.Any] = {
        "pfx_path": None,
        "pfx_content": None,
        "pfx_password": None,
        "certificate_path": None,
        "certificate_content": None,
        "private_key_path": None,
        "private_key_content": None,
        "private_key_passphrase": None,
        "chain_path": None,
        "chain_content": None,
        "host_names": None,
        "private_key_password": "store-pw",
        "allow_no_private_key_password": False,
        "encryption": "compatible",
        "expiry_warning_days": 30,
        "min_replicas": None,
        "prune": False,
        "destinations": [{"type": "local", "path": "/srv/ccs", "name": None, "user_name": None, "password": None, "port": 445, "encrypt": True}],
    }
    base.update(values)
    return base


def pfx(corpus: t.Any, name: str, **extra: t.Any) -> dict[str, t.Any]:
    return params(pfx_path=str(corpus.path(name)), pfx_password=corpus.PFX_PASSWORD, **extra)


@pytest.mark.parametrize("name", ["leaf-rsa.3des.pfx", "leaf-rsa.aes256.pfx", "leaf-ec.3des.pfx", "wildcard.aes256.pfx", "multi-san.3des.pfx"])
def test_pfx_sources_load_with_their_names(cert_corpus: t.Any, name: str) -> None:
    source = prepare(pfx(cert_corpus, name), now=NOW)
    assert source.bundle.thumbprint == cert_corpus.thumbprint(name.split(".")[0])
    assert source.host_names


def test_openssl_legacy_rc2_pfx_loads(cert_corpus: t.Any) -> None:
    if not cert_corpus.openssl:
        pytest.skip("openssl CLI not installed: no openssl-made PFX in the corpus")
    source = prepare(pfx(cert_corpus, "leaf-rsa.openssl-legacy.pfx"), now=NOW)
    assert source.bundle.thumbprint == cert_corpus.thumbprint("leaf-rsa")


def test_file_names_follow_iis_rules(cert_corpus: t.Any) -> None:
    wildcard = prepare(pfx(cert_corpus, "wildcard.3des.pfx"), now=NOW)
    assert [h.file_name for h in wildcard.host_names] == ["_.example.test.pfx"]
    idn = prepare(pfx(cert_corpus, "idn.3des.pfx"), now=NOW)
    assert sorted(h.file_name for h in idn.host_names) == ["_.bücher.example.pfx", "bücher.example.pfx"]
    subset = prepare(pfx(cert_corpus, "multi-san.3des.pfx", host_names=["B.Example.Test"]), now=NOW)
    assert [h.file_name for h in subset.host_names] == ["b.example.test.pfx"]
    covered = prepare(pfx(cert_corpus, "wildcard.3des.pfx", host_names=["shop.example.test"]), now=NOW)
    assert [h.file_name for h in covered.host_names] == ["shop.example.test.pfx"]


def test_pem_sources_with_chain_and_encrypted_key(cert_corpus: t.Any) -> None:
    source = prepare(
        params(
            certificate_path=str(cert_corpus.path("leaf-rsa.crt")),
            private_key_path=str(cert_corpus.path("leaf-rsa.key.enc")),
            private_key_passphrase=cert_corpus.KEY_PASSPHRASE,
            chain_path=str(cert_corpus.path("chain.pem")),
        ),
        now=NOW,
    )
    assert source.bundle.thumbprint == cert_corpus.thumbprint("leaf-rsa") and len(source.bundle.chain) == 2
    inline = prepare(
        params(certificate_content=cert_corpus.read("leaf-ec.fullchain.pem").decode(), private_key_content=cert_corpus.read("leaf-ec.key").decode()), now=NOW
    )
    assert inline.bundle.thumbprint == cert_corpus.thumbprint("leaf-ec")
    content = prepare(params(pfx_content=base64.b64encode(cert_corpus.read("leaf-rsa.3des.pfx")).decode(), pfx_password=cert_corpus.PFX_PASSWORD), now=NOW)
    assert content.bundle.thumbprint == cert_corpus.thumbprint("leaf-rsa")


@pytest.mark.parametrize(
    ("values", "option"),
    [
        ({"pfx_path": "leaf-rsa.3des.pfx", "pfx_password": "not-the-password"}, "pfx_password"),
        ({"pfx_path": "nokey.pfx"}, "pfx_path"),
        ({"pfx_path": "mismatched.pfx"}, "pfx_path"),
        ({"pfx_path": "garbage.pfx"}, "pfx_path"),
        ({"pfx_path": "expired.3des.pfx"}, "pfx_path"),
        ({"pfx_path": "not-yet-valid.3des.pfx"}, "pfx_path"),
        ({"pfx_path": "no-server-auth.3des.pfx"}, "pfx_path"),
        ({"pfx_path": "rsa-1024.3des.pfx"}, "pfx_path"),
        ({"pfx_path": "leaf-rsa.3des.pfx", "host_names": ["other.example.test"]}, "host_names"),
        ({"pfx_path": "wildcard.3des.pfx", "host_names": ["a.b.example.test"]}, "host_names"),
        ({"pfx_content": "%%% not base64"}, "pfx_content"),
        ({"certificate_path": "leaf-rsa.crt"}, "private_key_path"),
        ({"certificate_path": "leaf-rsa.crt", "private_key_path": "leaf-ec.key"}, "private_key_path"),
        ({"certificate_path": "leaf-rsa.crt", "private_key_path": "leaf-rsa.key.enc", "private_key_passphrase": "wrong"}, "private_key_passphrase"),
    ],
)
def test_refusals_name_the_option(cert_corpus: t.Any, values: dict[str, t.Any], option: str) -> None:
    resolved = {k: (str(cert_corpus.path(v)) if k.endswith("_path") else v) for k, v in values.items()}
    if "pfx_path" in resolved or "pfx_content" in resolved:
        resolved.setdefault("pfx_password", cert_corpus.PFX_PASSWORD)
    with pytest.raises(UserInputError) as error:
        prepare(params(**resolved), now=NOW)
    assert option in str(error.value)
    assert cert_corpus.PFX_PASSWORD not in str(error.value) and cert_corpus.KEY_PASSPHRASE not in str(error.value)


def test_hostile_host_names_never_become_file_names(cert_corpus: t.Any) -> None:
    for hostile in cert_corpus.HOSTILE_HOST_NAMES:
        with pytest.raises(UserInputError) as error:
            prepare(pfx(cert_corpus, "leaf-rsa.3des.pfx", host_names=[hostile]), now=NOW)
        assert "host_names" in str(error.value)


def test_expiring_soon_and_missing_chain_warn(cert_corpus: t.Any) -> None:
    assert any("expire" in w for w in prepare(pfx(cert_corpus, "expiring-soon.3des.pfx"), now=NOW).warnings)
    assert prepare(pfx(cert_corpus, "leaf-rsa.nochain.3des.pfx"), now=NOW).warnings


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"private_key_password": None}, "private_key_password"),
        ({"allow_no_private_key_password": True}, "allow_no_private_key_password"),
        ({"min_replicas": 2}, "min_replicas"),
        ({"min_replicas": 0}, "min_replicas"),
        (
            {"destinations": [{"type": "host_unc", "path": "\\\\fs01\\ccs", "name": None, "user_name": None, "password": None, "port": 445, "encrypt": True}]},
            "double hop",
        ),
        ({"destinations": [{"type": "smb", "path": "/srv/ccs", "name": None, "user_name": None, "password": None, "port": 445, "encrypt": True}]}, "UNC"),
        (
            {"destinations": [{"type": "host_path", "path": "CCS", "name": None, "user_name": None, "password": None, "port": 445, "encrypt": True}]},
            "absolute Windows path",
        ),
        (
            {
                "destinations": [
                    {"type": "local", "path": "/a", "name": "x", "user_name": None, "password": None, "port": 445, "encrypt": True},
                    {"type": "local", "path": "/b", "name": "X", "user_name": None, "password": None, "port": 445, "encrypt": True},
                ]
            },
            "used twice",
        ),
        (
            {"destinations": [{"type": "local", "path": "/a", "name": None, "user_name": None, "password": None, "port": 4450, "encrypt": True}]},
            "only apply to type smb",
        ),
    ],
)
def test_option_checks(change: dict[str, t.Any], needle: str) -> None:
    with pytest.raises(UserInputError) as error:
        check_options(params(**change))
    assert needle in str(error.value)


def destination(kind: str, path: str, **extra: t.Any) -> dict[str, t.Any]:
    return {"type": kind, "path": path, "name": None, "user_name": None, "password": None, "port": 445, "encrypt": True, **extra}


CREDENTIALS = {"user_name": "LAB\\svc-publish", "password": "pw"}
RELATIVE_PATHS = [
    destination("host_path", "D:\\CCS\\..\\CCS-other"),
    destination("host_path", "D:\\CCS\\.\\x"),
    destination("host_path", "D:/CCS/../other"),
    destination("host_unc", "\\\\fs01\\ccs\\..\\other", **CREDENTIALS),
    destination("smb", "\\\\fs01\\ccs\\sub\\..", **CREDENTIALS),
    destination("local", "/store/../other"),
    destination("local", "/store/./x"),
]


@pytest.mark.parametrize("bad", RELATIVE_PATHS, ids=[f"{d['type']}:{d['path']}" for d in RELATIVE_PATHS])
def test_relative_segments_are_refused_in_every_destination_type(bad: dict[str, t.Any]) -> None:
    with pytest.raises(UserInputError) as error:
        check_options(params(destinations=[bad]))
    assert str(error.value).startswith("destinations[0].path: relative segments ('.' or '..') are not allowed")


@pytest.mark.parametrize("good", [destination("host_path", "D:\\CCS..old"), destination("local", "/store/..data"),
                                  destination("smb", "\\\\fs01\\ccs\\v1.2", **CREDENTIALS)])
def test_dots_inside_names_are_not_relative_segments(good: dict[str, t.Any]) -> None:
    check_options(params(destinations=[good]))


@pytest.mark.parametrize(("encryption", "password"), [("compatible", "store-pw"), ("aes256", "store-pw"), ("compatible", None)])
def test_exported_files_identify_as_the_published_certificate(cert_corpus: t.Any, encryption: str, password: str | None) -> None:
    values = pfx(cert_corpus, "leaf-rsa.3des.pfx", encryption=encryption, private_key_password=password, allow_no_private_key_password=password is None)
    source = prepare(values, now=NOW)
    publication = build_publication(source.bundle, source.host_names, values)
    data = pfx_exporter(source.bundle, values)()
    facts = make_identify(password)(data)
    assert (facts.identity, facts.thumbprint, facts.encryption) == (publication.identity, publication.thumbprint, publication.encryption)
    assert publication.encryption == (encryption if password else "none")
    if password is not None:
        assert make_identify("another-password")(data).identity is None  # a rotated store password cannot open it


def test_identity_tells_chain_and_key_apart(cert_corpus: t.Any) -> None:
    def identity(name: str) -> str:
        values = pfx(cert_corpus, name)
        source = prepare(values, now=NOW)
        return build_publication(source.bundle, source.host_names, values).identity

    full, again, no_chain, other = (
        identity("leaf-rsa.3des.pfx"),
        identity("leaf-rsa.aes256.pfx"),
        identity("leaf-rsa.nochain.3des.pfx"),
        identity("leaf-ec.3des.pfx"),
    )
    assert full == again  # same certificate, key and chain in a differently encrypted PFX
    assert len({full, no_chain, other}) == 3
