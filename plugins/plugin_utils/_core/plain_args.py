# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Task arguments as plain strings, lists and dictionaries, for ansible-core's argument validation.

ArgumentSpecValidator deep-copies the arguments it validates. Strings that come from the inventory
or a template carry ansible-core's tags (where they were written, whether they are trusted), and a
tagged string deep-copies more than ten times slower than a plain one: with hundreds of host names
that copy was the largest per-name cost of ccs_binding. Validation reads only the values, so it gets
plain copies. A string decrypted from vault keeps its tag, which holds the ciphertext that stands in
for it when a result is written out as YAML; other types (numbers, encrypted strings) are kept as
they are, since there are few of them.
"""

from __future__ import annotations

import typing as t

from ansible.parsing.vault import VaultHelper


def plain_args(value: t.Any) -> t.Any:
    """value with every container a plain dict or list and every string not from vault a plain str."""
    value_type = type(value)
    if value_type is str:
        return value
    if isinstance(value, dict):
        return {plain_args(key): plain_args(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_args(item) for item in value]
    if isinstance(value, str) and VaultHelper.get_ciphertext(value, with_tags=False) is None:
        return str.__str__(value)
    return value
