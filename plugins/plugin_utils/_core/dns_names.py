# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host names for CCS bindings and CCS file names, and RFC 6125 certificate name matching.

A host name here is used three ways, so it is checked for all three:
- the binding host header and the SNI name (A-label form, ``xn--...``);
- the CCS file name ``<U-label form>.pfx`` (``*.`` becomes ``_.``), which is written on a
  Windows share, so it must never be able to escape the folder or name a DOS device;
- matching against the dNSName entries of a certificate.

IDNA: with the ``idna`` package, U-labels are checked with IDNA 2008 (RFC 5891). Without it,
Python's IDNA 2003 codec is used, but only for labels it leaves unchanged: any label that
nameprep would map (``ß`` -> ``ss``, final sigma, joiners, compatibility forms) is refused
instead of being silently turned into a different name than IDNA 2008 would give.
So the two back ends never give different names for the same input; the fallback only refuses
some names IDNA 2008 accepts (deviation characters, joiners) and accepts some it refuses (its
bidi and context rules are older: Arabic-Indic digits next to Latin letters, tatweel).
Pure ASCII labels never go through IDNA at all, so both back ends treat them identically.
"""

from __future__ import annotations

import encodings.idna as _idna2003
import ipaddress
import re
import typing as t
import unicodedata
from dataclasses import dataclass

try:
    import idna as _idna2008
except ImportError:  # pragma: no cover - exercised by monkeypatching in the unit tests
    _idna2008 = None  # type: ignore[assignment]

MAX_LABEL_LENGTH = 63
MAX_NAME_LENGTH = 253
# NTFS and SMB limit one path component to 255 UTF-16 code units.
MAX_FILE_NAME_UTF16 = 255
FILE_SUFFIX = ".pfx"
WILDCARD_FILE_PREFIX = "_."

_LDH_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
# Dot-separated LDH labels of at most 63 characters; no wildcard, no trailing dot.
_PLAIN_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")
_ACE_PREFIX = "xn--"
# Win32 maps these names to devices even with an extension ("nul.example.com.pfx" is NUL),
# so a first label equal to one of them can never be a CCS file.
_DOS_DEVICE_NAMES = frozenset(
    ["con", "prn", "aux", "nul", "conin$", "conout$", "clock$"] + [f"{stem}{digit}" for stem in ("com", "lpt") for digit in "0123456789\u00b9\u00b2\u00b3"]
)
_FIX = "use a DNS host name such as 'www.example.com' or '*.example.com' (letters, digits and hyphens, labels separated by dots)"


class HostNameError(ValueError):
    """A host name that cannot be used for a binding, SNI or a CCS file name."""


@dataclass(frozen=True)
class HostName:
    """A validated host name. Create it with parse_host_name(), never directly."""

    ascii: str
    unicode: str
    is_wildcard: bool

    @property
    def file_name(self) -> str:
        """The CCS file name IIS looks for (docs/ccs-behaviour.md#file-naming): U-label form, ``*.`` -> ``_.``, plus ``.pfx``."""
        stem = self.unicode
        if self.is_wildcard:
            stem = WILDCARD_FILE_PREFIX + stem[2:]
        return stem + FILE_SUFFIX

    def __str__(self) -> str:
        return self.ascii


def idna_backend() -> str:
    """Which IDNA rules apply to non-ASCII labels in this process."""
    return "idna2008" if _idna2008 is not None else "idna2003-unmapped"


def parse_host_name(text: str, *, allow_wildcard: bool = True, option: str = "host_names") -> HostName:
    """Validate and normalise one host name; raise HostNameError naming the option and the fix."""
    if not isinstance(text, str):
        raise HostNameError(f"{option}: {_quote(text)} is not a host name: expected a string; {_FIX}")
    plain = _plain_ascii_name(text)
    if plain is not None:
        return HostName(plain, plain, False)
    ascii_labels, unicode_labels = _split_and_convert(text, option=option)
    is_wildcard = ascii_labels[0] == "*"
    if is_wildcard and not allow_wildcard:
        raise _error(option, text, "a wildcard is not allowed here", "give the exact host name")
    _check_wildcard_depth(ascii_labels, text, option)
    _check_file_safety(unicode_labels, text, option)
    return HostName(".".join(ascii_labels), ".".join(unicode_labels), is_wildcard)


def _plain_ascii_name(text: str) -> str | None:
    """The name, lowercase, when it is plain ASCII letters, digits and hyphens that every rule below accepts as is.

    The common case, checked at a fraction of the cost (a farm binds hundreds of names per node). None for
    anything else (a wildcard, a trailing dot, an xn-- label, an error), which the full rules then decide:
    the answer is the same either way (tests/unit/plugin_utils/_core/test_dns_names.py compares both).
    """
    if not text.isascii():
        return None  # IDNA decides
    name = text.lower()
    if len(name) + len(FILE_SUFFIX) > MAX_FILE_NAME_UTF16 or not _PLAIN_NAME.fullmatch(name):
        return None
    labels = name.split(".")
    if labels[-1].isdigit() or labels[0] in _DOS_DEVICE_NAMES or any(label.startswith(_ACE_PREFIX) for label in labels):
        return None
    return name


def parse_file_name(file_name: str, *, option: str = "file_name") -> HostName:
    """The host name a CCS file name stands for (``_.example.com.pfx`` -> ``*.example.com``)."""
    if not isinstance(file_name, str) or not file_name.lower().endswith(FILE_SUFFIX):
        raise _error(option, file_name, "a CCS file name ends with '.pfx'", "name the file '<host name>.pfx'")
    stem = file_name[: -len(FILE_SUFFIX)]
    if stem.startswith(WILDCARD_FILE_PREFIX):
        stem = "*." + stem[len(WILDCARD_FILE_PREFIX) :]
    return parse_host_name(stem, option=option)


def certificate_covers(certificate_names: t.Iterable[str], host: HostName) -> bool:
    """Whether any certificate dNSName covers host, by RFC 6125 rules on A-label forms.

    ``*.example.com`` covers ``www.example.com`` only (not ``example.com``, not
    ``a.b.example.com``); a wildcard host is covered only by the same wildcard name.
    Certificate names that are not valid host names (partial wildcards, IPs, junk) cover nothing.
    """
    host_labels = host.ascii.split(".")
    for name in certificate_names:
        labels = _certificate_name_labels(name)
        if labels is None:
            continue
        if labels == host_labels:
            return True
        if labels[0] == "*" and not host.is_wildcard and labels[1:] == host_labels[1:] and len(labels) >= 3:
            return True
    return False


def _certificate_name_labels(name: str) -> list[str] | None:
    try:
        ascii_labels, _unicode = _split_and_convert(name, option="certificate")
    except (HostNameError, TypeError):
        return None
    return ascii_labels


def _split_and_convert(text: str, *, option: str) -> tuple[list[str], list[str]]:
    """Syntax checks shared by host names and certificate names; returns A-labels and U-labels."""
    if not isinstance(text, str):
        raise TypeError("host name must be a string")
    if len(text) > 2 * MAX_NAME_LENGTH:
        raise _error(option, text, f"it is {len(text)} characters long; the limit is {MAX_NAME_LENGTH}", "shorten the name")
    _check_not_ip_address(text, option)
    _check_characters(text, option)
    # Character by character: str.lower() on the whole text applies the Greek final-sigma rule,
    # which would lower the first label of "SAS" and "SAS.gr" (in Greek capitals) differently.
    # UTS #46 maps capital sigma (U+03A3) to small sigma (U+03C3) always, and so does this.
    name = unicodedata.normalize("NFC", "".join(char.lower() for char in text))
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise _error(option, text, "the host name is empty", "give a host name")
    labels = name.split(".")
    if "" in labels:
        raise _error(option, text, "it has an empty label ('..' or a leading dot)", "remove the extra dot")
    if "*" in labels[1:] or any("*" in label and label != "*" for label in labels):
        raise _error(option, text, "'*' is only allowed as the whole leftmost label", "use '*.example.com'")
    ascii_labels: list[str] = []
    unicode_labels: list[str] = []
    for label in labels:
        a_label, u_label = _convert_label(label, text, option)
        ascii_labels.append(a_label)
        unicode_labels.append(u_label)
    _check_lengths(ascii_labels, text, option)
    if ascii_labels[-1].isdigit():
        raise _error(option, text, "the last label is all digits, so it is not a DNS name", _FIX)
    return ascii_labels, unicode_labels


def _check_characters(text: str, option: str) -> None:
    for char in text:
        if char.isascii():
            if char.isalnum() or char in "-.*":
                continue
            raise _error(option, text, f"it contains {_describe_char(char)}, which host names cannot hold", _FIX)
        if unicodedata.category(char)[0] not in "LMN":
            raise _error(option, text, f"it contains {_describe_char(char)}, which host names cannot hold", _FIX)


def _describe_char(char: str) -> str:
    if char == " ":
        return "a space"
    if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") or char.isspace():
        return f"the control or space character U+{ord(char):04X}"
    return f"the character {char!r}"


def _check_not_ip_address(text: str, option: str) -> None:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return
    raise _error(option, text, "it is an IP address; SNI and CCS work only with host names", "give the DNS host name")


def _convert_label(label: str, text: str, option: str) -> tuple[str, str]:
    """(A-label, U-label) of one lowercase label."""
    if label == "*":
        return label, label
    if label.isascii():
        if not _LDH_LABEL.match(label):
            raise _error(option, text, f"label {label!r} starts or ends with a hyphen", "remove the hyphen")
        if label.startswith(_ACE_PREFIX):
            u_label = _decode_a_label(label, text, option)
            _check_u_label_characters(u_label, text, option)
            return label, u_label
        return label, label
    _check_u_label_characters(label, text, option)
    a_label = _encode_u_label(label, text, option)
    return a_label, label


def _encode_u_label(label: str, text: str, option: str) -> str:
    try:
        if _idna2008 is not None:
            return _idna2008.alabel(label).decode("ascii")
        a_label = _idna2003.ToASCII(label).decode("ascii")
        if _idna2003.ToUnicode(a_label) != label:
            raise UnicodeError("nameprep maps this label to a different one")
        return a_label
    except (UnicodeError, ValueError) as exc:  # idna.IDNAError is a UnicodeError
        raise _error(option, text, f"label {label!r} is not a valid internationalised label ({_reason(exc)})", _idn_fix()) from None


def _decode_a_label(label: str, text: str, option: str) -> str:
    try:
        if _idna2008 is not None:
            u_label = _idna2008.ulabel(label)
        else:
            u_label = _decode_a_label_idna2003(label)
    except (UnicodeError, ValueError) as exc:
        raise _error(option, text, f"label {label!r} is not a valid A-label ({_reason(exc)})", _idn_fix()) from None
    # Punycode turns a plain-ASCII label into "<label>-", so an xn-- label that decodes to plain ASCII
    # ends with a hyphen, which _convert_label has already refused.
    return u_label


def _decode_a_label_idna2003(label: str) -> str:
    try:
        u_label = _idna2003.ToUnicode(label)
        round_trip = _idna2003.ToASCII(u_label).decode("ascii")
    except UnicodeError:
        round_trip = ""
    if round_trip != label:
        raise UnicodeError("IDNA 2003 nameprep does not give back the same A-label")
    return u_label


def _check_u_label_characters(u_label: str, text: str, option: str) -> None:
    # A U-label becomes part of a file name: typed or decoded from an A-label, the same rules apply.
    for char in u_label:
        if not char.isascii() and unicodedata.category(char)[0] not in "LMN":
            raise _error(option, text, f"its A-label decodes to {_describe_char(char)}", _idn_fix())
    # IDNA 2008 forbids these; the IDNA 2003 fallback would let them through.
    if unicodedata.category(u_label[0]).startswith("M"):
        raise _error(option, text, f"label {u_label!r} starts with a combining mark", _idn_fix())
    if u_label.startswith("-") or u_label.endswith("-") or u_label[2:4] == "--":
        raise _error(option, text, f"label {u_label!r} starts or ends with a hyphen, or has '--' in the third and fourth positions", _idn_fix())


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _idn_fix() -> str:
    fix = "give the name in Unicode (e.g. 'bücher.example') or its exact punycode form"
    if _idna2008 is None:
        fix += "; install the Python 'idna' package on the controller for full IDNA 2008 support"
    return fix


def _check_lengths(ascii_labels: list[str], text: str, option: str) -> None:
    for label in ascii_labels:
        if len(label) > MAX_LABEL_LENGTH:
            raise _error(option, text, f"a label is {len(label)} characters long in DNS form; the limit is {MAX_LABEL_LENGTH}", "shorten the label")
    total = len(".".join(ascii_labels))
    if total > MAX_NAME_LENGTH:
        raise _error(option, text, f"it is {total} characters long in DNS form; the limit is {MAX_NAME_LENGTH}", "shorten the name")


def _check_wildcard_depth(ascii_labels: list[str], text: str, option: str) -> None:
    if ascii_labels[0] == "*" and len(ascii_labels) < 3:
        raise _error(option, text, "a wildcard needs at least two labels after '*.'", "use a name such as '*.example.com'")


def _check_file_safety(unicode_labels: list[str], text: str, option: str) -> None:
    """The CCS file name must be one plain file in the store folder, never a device."""
    if unicode_labels[0] in _DOS_DEVICE_NAMES:
        raise _error(
            option,
            text,
            f"its first label {unicode_labels[0]!r} is a reserved Windows device name, so CCS cannot store '{'.'.join(unicode_labels)}.pfx'",
            "use a different host name",
        )
    file_name = ".".join(unicode_labels) + FILE_SUFFIX
    utf16_units = len(file_name.encode("utf-16-le")) // 2
    if utf16_units > MAX_FILE_NAME_UTF16:
        raise _error(option, text, f"its CCS file name would be {utf16_units} UTF-16 units long; Windows allows {MAX_FILE_NAME_UTF16}", "shorten the name")


def _quote(value: object) -> str:
    """repr() of a value for a message: escapes control characters, shortened if huge.

    A shortened value states the length of the value itself (as the length checks count
    it), not of its quoted form.
    """
    text = repr(value)
    if len(text) <= 120:
        return text
    length = len(value) if isinstance(value, str) else len(text)
    return f"{text[:100]}...({length} characters)"


def _error(option: str, value: object, rule: str, fix: str) -> HostNameError:
    return HostNameError(f"{option}: {_quote(value)} is not a valid host name: {rule}; {fix}")
