#!/usr/bin/python
# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ccs_renew_plan
short_description: Decide which certificates of an IIS Centralized Certificate Store to renew
version_added: 0.2.0
description:
  - Reads one replica of the certificate store (the first of O(destinations) that answers) and returns the
    certificates it holds, grouped by thumbprint (the files of one certificate are renewed as one order), and the
    renewals a run should order.
  - A certificate is due when it expires within O(renew_before_days) days, or has expired. A host name in
    O(bound_host_names) without a file in the store (IIS looks up C(<host name>.pfx), C(_.<parent>.pfx) for a
    wildcard binding) is due as a new certificate. Names in O(force_host_names) are renewed whatever their expiry.
  - The store's manifest records (written by M(iis.ccs.ccs_cert_publish), one per file, read through the same reader as
    M(iis.ccs.ccs_store_info)) vouch for the files they recorded; only other files are read and opened with
    O(private_key_password). Files that password cannot open are reported and not renewed.
  - For rollback, the PFX files of certificates due for renewal are returned as they are in the store (RV(previous)).
    They are encrypted with the store's password; still, register the result with C(no_log) (the iis.ccs.renew role does).
  - Read-only. Used by the C(iis.ccs.renew) role and C(playbooks/renew.yml).
author:
  - iis.ccs contributors (@iis-ccs)
options:
  destinations:
    # type, elements, required and the suboptions: the iis.ccs.store_destinations fragment.
    description:
      - The replicas of the certificate store, exactly as given to M(iis.ccs.ccs_cert_publish). Only the first one that
        can be read is read.
  private_key_password:
    description:
      - The store's private key password (the provider's). Opens files the manifest does not vouch for.
      - Required unless O(allow_no_private_key_password=true).
    type: str
  allow_no_private_key_password:
    description:
      - For a store whose files carry no password.
    type: bool
    default: false
  renew_before_days:
    description:
      - Renew certificates that expire within this many days.
    type: int
    default: 30
  bound_host_names:
    description:
      - Host names bound on the farm (for example the CCS bindings M(iis.ccs.ccs_info) reports). Those without a file in
        the store get a new certificate.
    type: list
    elements: str
    default: []
  force_host_names:
    description:
      - Renew the certificate holding each of these names now, or order a new one when the store has none.
    type: list
    elements: str
    default: []
  include_previous:
    description:
      - Return the current PFX of every certificate due for renewal in RV(previous), for rollback.
    type: bool
    default: true
extends_documentation_fragment:
  - iis.ccs.store_destinations
attributes:
  check_mode:
    description: Read-only; runs the same in check mode.
    support: full
  diff_mode:
    description: Read-only; never returns a diff.
    support: none
  platform:
    description: The task's host is the Windows host of C(host_path) and C(host_unc) destinations.
    platforms: windows
    support: full
seealso:
  - module: iis.ccs.ccs_cert_publish
  - module: iis.ccs.ccs_info
"""

EXAMPLES = r"""
- name: What is due within 30 days, plus names bound on the farm without a certificate
  iis.ccs.ccs_renew_plan:
    destinations:
      - {type: host_path, path: 'D:\CCS'}
    private_key_password: "{{ vault_ccs_pfx_password }}"
    renew_before_days: 30
    bound_host_names: [www.contoso.com, shop.contoso.com]
  register: plan
  no_log: true   # RV(previous) holds the current PFX files
  delegate_to: fs01.contoso.com
  run_once: true

- name: Show the plan
  ansible.builtin.debug:
    msg: "{{ plan.renewals }}"
  run_once: true
"""

RETURN = r"""
replica:
  description: The replica that was read.
  returned: success
  type: str
  sample: host_path:D:\CCS
now:
  description: The moment the plan was made (UTC), which days are counted from.
  returned: success
  type: str
  sample: "2026-12-02T04:30:00Z"
certificates:
  description: Every certificate of the store that the store password opens, one entry per thumbprint.
  returned: success
  type: list
  elements: dict
  contains:
    host_names:
      description: The host names whose files hold this certificate (Unicode form, C(*.) for wildcards).
      type: list
      elements: str
    file_names:
      description: The files.
      type: list
      elements: str
    thumbprint:
      description: SHA-1 thumbprint, uppercase hex, as Windows shows it.
      type: str
    not_after:
      description: Expiry (UTC, ISO 8601).
      type: str
    days_left:
      description: Whole days until expiry (negative when expired).
      type: int
thumbprint_by_host_name:
  description: The thumbprint of the certificate in each host name's file (lowercase host names).
  returned: success
  type: dict
  sample: {"www.contoso.com": "0123456789ABCDEF0123456789ABCDEF01234567"}
renewals:
  description: What to order, one entry per certificate.
  returned: success
  type: list
  elements: dict
  contains:
    host_names:
      description: The names the new certificate must cover (each gets its file in the store).
      type: list
      elements: str
    identifiers:
      description: The same names as ACME identifiers (ASCII, punycode for IDNs), for the CSR and the order.
      type: list
      elements: str
    reason:
      description: C(expiring), C(expired), C(missing) (bound, no file) or C(forced).
      type: str
    thumbprint:
      description: The certificate it replaces; null for a new one.
      type: str
    not_after:
      description: Expiry of the certificate it replaces; null for a new one.
      type: str
    days_left:
      description: Days left of the certificate it replaces; null for a new one.
      type: int
previous:
  description:
    - For every renewal that replaces a certificate, the PFX now in the store, base64 (encrypted with the store password).
    - Empty when O(include_previous=false).
  returned: success
  type: list
  elements: dict
  contains:
    host_names:
      description: The names of the certificate.
      type: list
      elements: str
    thumbprint:
      description: Its thumbprint.
      type: str
    pfx_content:
      description: The PFX file, base64.
      type: str
unreadable_files:
  description: PFX files the store password cannot open (never renewed; IIS cannot serve them either).
  returned: success
  type: list
  elements: str
round_trips:
  description: Round trips to the task's host. On a host new to this collection version, one more (the scripts are sent once, and kept on the host).
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_RENEW_PLAN


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **CCS_RENEW_PLAN)
    module.fail_json(msg="iis.ccs.ccs_renew_plan runs on the controller as an action plugin; it cannot run on the target.")


if __name__ == "__main__":
    main()
