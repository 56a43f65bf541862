# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs of the iis.ccs modules: the single source of truth.

The module files pass these to AnsibleModule, so ``ansible-test sanity``
(validate-modules) checks each one against the module's documentation; the action
plugins validate task arguments with the very same dictionaries.
"""

from __future__ import annotations

HOST_STATE_SECTIONS = ["windows", "features", "provider", "sites", "httpsys"]

CCS_INFO = {
    "argument_spec": {
        "gather": {"type": "list", "elements": "str", "choices": HOST_STATE_SECTIONS, "default": HOST_STATE_SECTIONS},
        "sites": {"type": "list", "elements": "str", "default": []},
    },
}
