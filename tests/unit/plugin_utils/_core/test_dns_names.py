"""Host-name rules shared by ccs_binding and ccs_cert_publish (binding host, SNI name, CCS file name)."""

from __future__ import annotations

import json
import ntpath
import random
import re
import typing as t
import unicodedata

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._core import dns_names
from ansible_collections.iis.ccs.plugins.plugin_utils._core.dns_names import (
    HostName,
    HostNameError,
    certificate_covers,
    parse_file_name,
    parse_host_name,
)

# Characters Windows refuses in a file name (besides control characters), per the Win32 naming rules.
WINDOWS_FORBIDDEN = set('<>:"/\\|?*')
DEVICE_STEMS = {"con", "prn", "aux", "nul"} | {f"{s}{d}" for s in ("com", "lpt") for d in "123456789"}

GREEK_CAPS = "\u03a3\u0391\u03a3"
GREEK_SMALL = "\u03c3\u03b1\u03c3"

HOSTILE_NAMES = [
    "",
    ".",
    "..",
    " ",
    "www.example.com ",
    " www.example.com",
    "www example.com",
    "www.example.com\n",
    "www.example.com\r\nX-Injected: 1",
    "www.exa\x00mple.com",
    "www.exa\tmple.com",
    "'www.example.com'",
    '"www.example.com"',
    "$(calc).example.com",
    "www.example.com;calc",
    "`calc`.example.com",
    "a$b.example.com",
    "../../windows/system32",
    "..\\..\\windows",
    "www/../../etc.example.com",
    "www\\..\\x.example.com",
    "c:\\temp\\x.example.com",
    "\\\\server\\share\\x",
    "www..example.com",
    ".www.example.com",
    "www.example.com..",
    "www.exa|mple.com",
    "www.exa<mple>.com",
    "www.exa?mple.com",
    "www.exa:mple.com",
    "www.exa%2fmple.com",
    "www.exa\u2028mple.com",
    "www.exa\u202emple.com",
    "www.exa\u200bmple.com",
    "www.exa\uff0fmple.com",  # fullwidth solidus
    "www.exa\u2215mple.com",  # division slash
    "www.example\u3002com",  # ideographic full stop
    "con",
    "NUL",
    "com1",
    "lpt9",
    "con.example.com",
    "Aux.example.com",
    "com\u00b9.example.com",
    "conin$.example.com",
    "_.example.com",
    "*",
    "*.",
    "*.com",
    "**.example.com",
    "a*.example.com",
    "*a.example.com",
    "www.*.com",
    "www.example.*",
    "*.*.example.com",
    "-www.example.com",
    "www-.example.com",
    "www.example.com-",
    "xn--.example.com",
    "xn--abc-.example.com",
    "xn--n3h.example.com",  # a snowman: not a letter
    "\u0301a.example.com",  # label starting with a combining mark
    "xn--a-wbb.example.com",  # the same as an A-label
    "1.2.3.4",
    "127.1",
    "0x7f.0.0.1",
    "::1",
    "[::1]",
    "fe80::1%eth0",
    "www.example.123",
    "a" * 64 + ".example.com",
    ".".join(["a" * 63] * 4) + ".com",
    "x" * 10000,
]


needs_idna = pytest.mark.skipif(dns_names.idna_backend() != "idna2008", reason="the idna package is not installed")


@pytest.fixture(params=["idna2008", "idna2003-unmapped"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the idna package and again with the stdlib fallback."""
    if request.param == "idna2008" and dns_names.idna_backend() != "idna2008":
        pytest.skip("the idna package is not installed")
    if request.param == "idna2003-unmapped":
        monkeypatch.setattr(dns_names, "_idna2008", None)
    assert dns_names.idna_backend() == request.param
    return str(request.param)


@pytest.mark.parametrize(
    ("text", "ascii", "unicode", "file_name", "wildcard"),
    [
        ("www.example.com", "www.example.com", "www.example.com", "www.example.com.pfx", False),
        ("WWW.Example.COM.", "www.example.com", "www.example.com", "www.example.com.pfx", False),
        ("*.example.com", "*.example.com", "*.example.com", "_.example.com.pfx", True),
        ("*.Bücher.example", "*.xn--bcher-kva.example", "*.bücher.example", "_.bücher.example.pfx", True),
        ("*.XN--BCHER-KVA.example", "*.xn--bcher-kva.example", "*.bücher.example", "_.bücher.example.pfx", True),
        ("bu\u0308cher.example", "xn--bcher-kva.example", "bücher.example", "bücher.example.pfx", False),  # NFD input
        ("intranet", "intranet", "intranet", "intranet.pfx", False),
        ("r3---sn-abc.googlevideo.com", "r3---sn-abc.googlevideo.com", "r3---sn-abc.googlevideo.com", "r3---sn-abc.googlevideo.com.pfx", False),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah", "例え.テスト", "例え.テスト.pfx", False),
        ("console.example.com", "console.example.com", "console.example.com", "console.example.com.pfx", False),
        ("www.con.example.com", "www.con.example.com", "www.con.example.com", "www.con.example.com.pfx", False),
        ("*.co.uk", "*.co.uk", "*.co.uk", "_.co.uk.pfx", True),
        # Capital sigma always becomes small sigma (U+03C3), never final sigma, as in UTS #46.
        (f"{GREEK_CAPS}.gr", "xn--mxa9ab.gr", f"{GREEK_SMALL}.gr", f"{GREEK_SMALL}.gr.pfx", False),
        (f"www.{GREEK_CAPS}", "www.xn--mxa9ab", f"www.{GREEK_SMALL}", f"www.{GREEK_SMALL}.pfx", False),
    ],
)
def test_valid_names_are_normalised(backend: str, text: str, ascii: str, unicode: str, file_name: str, wildcard: bool) -> None:
    host = parse_host_name(text)
    assert host == HostName(ascii=ascii, unicode=unicode, is_wildcard=wildcard)
    assert host.file_name == file_name
    assert str(host) == ascii


@pytest.mark.parametrize("text", HOSTILE_NAMES)
def test_hostile_names_are_rejected_with_option_and_quoted_value(backend: str, text: str) -> None:
    with pytest.raises(HostNameError) as caught:
        parse_host_name(text, option="bindings[0].host_name")
    message = str(caught.value)
    assert message.startswith("bindings[0].host_name: ")
    assert "is not a valid host name: " in message
    # The value is quoted with repr(): no raw control characters reach a log line.
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in message)
    assert len(message) < 600


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("a b.example.com", "a space"),
        ("a\nb.example.com", "U+000A"),
        ("www..example.com", "empty label"),
        ("a*.example.com", "whole leftmost label"),
        ("www.*.example.com", "whole leftmost label"),
        ("*.com", "at least two labels"),
        ("*", "at least two labels"),
        ("10.0.0.1", "IP address"),
        ("2001:db8::1", "IP address"),
        ("-a.example.com", "hyphen"),
        ("a" * 64 + ".com", "the limit is 63"),
        (".".join(["a" * 60] * 5), "the limit is 253"),
        ("nul.example.com", "reserved Windows device name"),
        ("$(x).example.com", "'$'"),
        ("a/b.example.com", "'/'"),
    ],
)
def test_message_states_the_rule(text: str, fragment: str) -> None:
    with pytest.raises(HostNameError, match=re.escape(fragment)):
        parse_host_name(text)


def test_message_quotes_value_with_repr() -> None:
    with pytest.raises(HostNameError) as caught:
        parse_host_name("bad\r\nname")
    assert "'bad\\r\\nname'" in str(caught.value)


def test_huge_value_is_shortened_in_message() -> None:
    with pytest.raises(HostNameError) as caught:
        parse_host_name("x" * 10000)
    assert len(str(caught.value)) < 400


def test_a_too_long_name_is_reported_with_one_length() -> None:
    name = ".".join(["a" * 63] * 3 + ["b" * 62])  # 254 characters: one over the DNS limit
    assert len(name) == 254
    with pytest.raises(HostNameError) as caught:
        parse_host_name(name)
    message = str(caught.value)
    # The shortened quote and the rule count the same thing: the name's own characters.
    assert "(254 characters)" in message and "it is 254 characters long" in message
    assert "256" not in message


def test_non_string_is_rejected() -> None:
    with pytest.raises(HostNameError, match="expected a string"):
        parse_host_name(42)  # type: ignore[arg-type]


def test_wildcard_refused_when_not_allowed() -> None:
    with pytest.raises(HostNameError, match=r"^host_name: .*wildcard is not allowed"):
        parse_host_name("*.example.com", allow_wildcard=False, option="host_name")
    assert parse_host_name("www.example.com", allow_wildcard=False).is_wildcard is False


def test_underscore_host_cannot_collide_with_wildcard_file() -> None:
    # "_.example.com.pfx" is the wildcard's file; a host literally named "_.example.com" would share it.
    assert parse_host_name("*.example.com").file_name == "_.example.com.pfx"
    with pytest.raises(HostNameError):
        parse_host_name("_.example.com")


@needs_idna
def test_idna2008_keeps_deviation_characters() -> None:
    host = parse_host_name("straße.de")
    assert (host.ascii, host.unicode, host.file_name) == ("xn--strae-oqa.de", "straße.de", "straße.de.pfx")
    assert parse_host_name("xn--strae-oqa.de") == host


@pytest.mark.parametrize("text", ["straße.de", "xn--strae-oqa.de", "xn--zca.de", "ﬁ.example"])
def test_fallback_refuses_names_nameprep_would_change(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    # IDNA 2003 would publish "strasse.de.pfx" for "straße.de": a different file than IDNA 2008 gives.
    monkeypatch.setattr(dns_names, "_idna2008", None)
    with pytest.raises(HostNameError, match="install the Python 'idna' package"):
        parse_host_name(text)


@needs_idna
def test_backends_agree_on_accepted_names(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ["*.bücher.example", "xn--bcher-kva.example", "münchen.de", "παράδειγμα.δοκιμή", "пример.рф", "例え.テスト", "www.Example.com"]
    with_idna = [parse_host_name(n) for n in names]
    monkeypatch.setattr(dns_names, "_idna2008", None)
    assert [parse_host_name(n) for n in names] == with_idna


@pytest.mark.parametrize("text", HOSTILE_NAMES + ["straße.de", "münchen.de", "*.bücher.example", "www.example.com", "xn--n3h.com", "☃.com"])
def test_accepted_names_can_only_be_one_plain_file_in_the_store(backend: str, text: str) -> None:
    try:
        host = parse_host_name(text)
    except HostNameError:
        return
    name = host.file_name
    assert ntpath.basename(name) == name
    assert not WINDOWS_FORBIDDEN & set(name)
    assert ".." not in name
    assert all((ord(c) >= 32 and unicodedata.category(c)[0] in "LMN") or c in ".-_" for c in name)
    assert name.split(".")[0] not in DEVICE_STEMS
    assert re.fullmatch(r"(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)+|[a-z0-9-]+", host.ascii)


def test_file_name_round_trip(backend: str) -> None:
    for text in ["*.bücher.example", "www.example.com", "münchen.de"]:
        host = parse_host_name(text)
        assert parse_file_name(host.file_name) == host
    assert parse_file_name("_.Example.COM.PFX").ascii == "*.example.com"
    for bad in ["www.example.com.cer", "..pfx", "con.pfx", "_.com.pfx", "a b.pfx"]:
        with pytest.raises(HostNameError, match=r"^file_name: "):
            parse_file_name(bad)


@pytest.mark.parametrize(
    ("cert_names", "host", "covered"),
    [
        (["www.example.com"], "www.example.com", True),
        (["WWW.EXAMPLE.COM."], "www.example.com", True),
        (["*.example.com"], "www.example.com", True),
        (["*.example.com"], "example.com", False),
        (["*.example.com"], "a.b.example.com", False),
        (["*.example.com"], "*.example.com", True),
        (["www.example.com"], "*.example.com", False),
        (["a.example.com", "b.example.com"], "*.example.com", False),
        (["*.b.example.com"], "*.example.com", False),
        (["*.example.com"], "*.b.example.com", False),
        (["*.xn--bcher-kva.example"], "www.bücher.example", True),
        (["xn--bcher-kva.example"], "bücher.example", True),
        (["bücher.example"], "bücher.example", True),  # a U-label in a SAN is wrong, but it names the same host
        (["w*.example.com"], "www.example.com", False),  # partial wildcards are not honoured
        (["*.com"], "example.com", False),
        (["*"], "intranet", False),
        (["10.0.0.1"], "www.example.com", False),
        (["", "bad name", "*.*.example.com"], "www.example.com", False),
        ([], "www.example.com", False),
        (["www.example.com"], "www.example.org", False),
        (["*.example.com"], "www.example.com.evil.org", False),
    ],
)
def test_certificate_covers(backend: str, cert_names: list[str], host: str, covered: bool) -> None:
    assert certificate_covers(cert_names, parse_host_name(host)) is covered


def test_certificate_covers_accepts_any_iterable() -> None:
    assert certificate_covers(iter(("x.example.com", "*.example.com")), parse_host_name("www.example.com"))


def test_random_input_is_either_refused_or_safe(backend: str) -> None:
    """Fuzz: whatever is typed, the outcome is HostNameError or a name that passes every file-name rule."""
    rng = random.Random(20261123)
    pieces = ["www", "example", "com", "*", ".", "..", "-", "_", "xn--", "bcher-kva", "bücher", "ß", "con", "nul", "com1", "1", "0x7f"]
    pieces += list(" \t\n\r\x00\x7f'\"$()`;/\\:|<>?%~!@#&=+,[]{}") + ["\u202e", "\u200d", "\uff0f", "\u3002", "\u0301", "İ", "Σ", "例", "😀"]
    accepted = 0
    for _attempt in range(3000):
        text = "".join(rng.choice(pieces) for _piece in range(rng.randint(0, 8)))
        try:
            host = parse_host_name(text)
        except HostNameError as error:
            assert str(error).startswith("host_names: ")
            continue
        accepted += 1
        name = host.file_name
        assert ntpath.basename(name) == name and not WINDOWS_FORBIDDEN & set(name) and ".." not in name
        assert all((ord(c) >= 128 and unicodedata.category(c)[0] in "LMN") or c in "abcdefghijklmnopqrstuvwxyz0123456789.-_" for c in name)
        assert name.split(".")[0] not in DEVICE_STEMS and not name.startswith((".", "-"))
        assert re.fullmatch(r"(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*", host.ascii)
        assert parse_host_name(host.ascii) == host == parse_host_name(host.unicode)
    assert accepted > 50  # the generator does produce valid names, so the checks above did run


@needs_idna
def test_backends_never_give_different_names_for_the_same_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback may refuse more (or accept some names IDNA 2008 refuses), but never maps a name elsewhere."""
    rng = random.Random(3)
    pieces = ["www", "example", "com", "*", ".", "-", "xn--", "bcher-kva", "bücher", "ß", "a", "ab", "\u200d", "\u200c", "\u0301"]
    pieces += ["İ", "Σ", "ς", "例", "ǅ", "Ⅻ", "K", "\u0660", "\u05d0", "\u0627", "\u0640", "\u00b7", "l", "1", "é", "ü", "ñ"]
    samples = ["".join(rng.choice(pieces) for _piece in range(rng.randint(1, 6))) for _sample in range(4000)]

    def outcomes() -> list[HostName | None]:
        results: list[HostName | None] = []
        for text in samples:
            try:
                results.append(parse_host_name(text))
            except HostNameError:
                results.append(None)
        return results

    with_idna = outcomes()
    monkeypatch.setattr(dns_names, "_idna2008", None)
    fallback = outcomes()
    both = [(a, b) for a, b in zip(with_idna, fallback, strict=True) if a is not None and b is not None]
    assert len(both) > 100
    assert all(a == b for a, b in both)


def test_corpus_hostile_host_names_are_all_refused(cert_corpus: t.Any) -> None:
    # The same list other modules' tests use (tests/unit/certs/corpus.py and hostile-host-names.json).
    names = json.loads(cert_corpus.read("hostile-host-names.json"))
    assert names == list(cert_corpus.HOSTILE_HOST_NAMES) and len(names) > 30
    for text in names:
        with pytest.raises(HostNameError):
            parse_host_name(text)


@needs_idna
def test_a_name_whose_ccs_file_name_is_too_long_for_windows_is_refused() -> None:
    # 56 copies of U+20000 (a CJK ideograph outside the BMP) make a 63-character A-label but 112 UTF-16
    # units in the file name: three such labels fit DNS (199 characters with .example) and overflow the 255-unit limit.
    label = "\U00020000" * 56
    name = ".".join([label] * 3) + ".example"
    assert len(parse_host_name(label + ".example").ascii.split(".")[0]) == 63
    with pytest.raises(HostNameError, match=r"its CCS file name would be 350 UTF-16 units long; Windows allows 255; shorten the name$"):
        parse_host_name(name)


def test_an_a_label_of_plain_ascii_ends_with_a_hyphen_and_is_refused_as_such() -> None:
    # Punycode writes a plain-ASCII label as "<label>-": that label never reaches the A-label decoder.
    with pytest.raises(HostNameError, match=r"label 'xn--www-' starts or ends with a hyphen"):
        parse_host_name("xn--www-.example.com")


def _outcome(text: str) -> HostName | str:
    try:
        return parse_host_name(text)
    except HostNameError as error:
        return str(error)


def _edge_names() -> list[str]:
    """Names at every limit of the plain-ASCII shortcut, and next to it."""
    label63, label64 = "a" * 63, "b" * 64
    near_limits = [".".join([label63] * 3) + "." + "c" * length for length in range(58, 66)]  # 249 to 256 characters
    return [
        "www.example.com", "WWW.Example.COM", "www.example.com.", "intranet", "a", "0", "a-b", "a--b", "r3---sn-abc.example.com",
        f"{label63}.example.com", f"{label64}.example.com", "1.2.3.4", "www.example.123", "123.example.com", "a.1", "1a.2b",
        "con.example.com", "www.con.example.com", "COM1.example.com", "lpt9", "console.example.com", "xn--bcher-kva.example",
        "www.XN--bcher-kva.example", "xn--.example.com", "ab--cd.example.com", "*.example.com", "-a.example.com", "a-.example.com",
        "a..b", ".a", "\u212a.example.com", "\u017f.example.com", "www.example.com\n", *near_limits,
    ]


def test_the_plain_ascii_shortcut_gives_the_full_rules_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """parse_host_name answers plain ASCII names without the full rules; the answer, or the error, must not change."""
    rng = random.Random(20261202)
    pieces = ["www", "example", "com", "con", "nul", "com1", "xn--", "bcher-kva", "1", "42", "-", "--", ".", "..", "*", "A", "Z", "_", "\u212a"]
    pieces += ["a" * 30, "b" * 63]
    samples = _edge_names() + HOSTILE_NAMES + ["".join(rng.choice(pieces) for _piece in range(rng.randint(1, 10))) for _sample in range(4000)]
    fast = [_outcome(text) for text in samples]
    assert sum(isinstance(outcome, HostName) for outcome in fast) > 500  # the generator does reach the shortcut
    monkeypatch.setattr(dns_names, "_plain_ascii_name", lambda text: None)
    full = [_outcome(text) for text in samples]
    assert [(text, answer) for text, answer, expected in zip(samples, fast, full, strict=True) if answer != expected] == []
