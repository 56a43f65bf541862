# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IIS binding sslFlags: the integer in applicationHost.config and its named bits."""

from __future__ import annotations

import typing as t

SNI = 1
CENTRAL_CERT_STORE = 2

# Names follow the IISAdministration SslFlags enum; the integers are those of
# applicationHost.config (HTTP.sys uses different bit values for the same ideas).
FLAG_BITS: dict[str, int] = {
    "Sni": SNI,
    "CentralCertStore": CENTRAL_CERT_STORE,
    "DisableHTTP2": 4,
    "DisableOCSPStp": 8,
    "DisableQUIC": 16,
    "DisableTLS13": 32,
    "DisableLegacyTLS": 64,
}

# Bits above 3 exist from IIS 10 version 1809 (Windows Server 2019, build 17763).
MINIMUM_BUILD_FOR_EXTENDED_FLAGS = 17763
EXTENDED_FLAGS_MASK = 4 | 8 | 16 | 32 | 64


def flag_names(value: int) -> list[str]:
    """Named bits set in value, plus 'Unknown<bit>' for bits this collection does not know."""
    names = [name for name, bit in FLAG_BITS.items() if value & bit]
    known = sum(FLAG_BITS.values())
    unknown = value & ~known
    bit = 1
    while unknown:
        if unknown & bit:
            names.append(f"Unknown{bit}")
            unknown &= ~bit
        bit <<= 1
    return names


def uses_ccs(value: int) -> bool:
    return bool(value & CENTRAL_CERT_STORE)


def uses_sni(value: int) -> bool:
    return bool(value & SNI)


def describe(value: int) -> dict[str, t.Any]:
    return {"ssl_flags": value, "ssl_flag_names": flag_names(value)}
