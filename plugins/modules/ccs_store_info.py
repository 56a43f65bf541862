#!/usr/bin/python
# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ccs_store_info
short_description: Audit the Centralized Certificate Store, its replicas, the farm that uses it and the share ACL
version_added: 0.2.0
description:
  - Reads every replica of the store (one listing and the content of every C(*.pfx) file) and opens each file with the
    store's private key password, the way IIS does.
  - Per file it reports the host names, thumbprint, issuer, not-after date and days left, key type and size, PFX encryption,
    chain completeness, whether the file name matches a DNS name of the certificate, whether iis.ccs published it, and
    its presence and identity on each replica.
  - Lists findings with a severity (C(critical), C(error), C(warning), C(info)) and a fix.
  - Given the M(iis.ccs.ccs_info) results of the web nodes in O(nodes), it also cross-checks the farm against the store.
  - With O(acl_audit), it reads the SMB share permissions and the NTFS ACL of the share's folder on the task's host (the
    file server) and checks them against the least-privilege rules.
  - Never writes anything, in any mode.
author:
  - iis.ccs contributors (@iis-ccs)
options:
  destinations:
    # type, elements, required and the suboptions: the iis.ccs.store_destinations fragment.
    description:
      - The replicas of the certificate store, with the same types and credentials as M(iis.ccs.ccs_cert_publish).
      - Each is read on its own; one that cannot be read is reported and the others are still read.
  private_key_password:
    description:
      - The store's private key password, the one the central certificate provider was configured with.
      - Required unless O(allow_no_private_key_password=true).
    type: str
  allow_no_private_key_password:
    description:
      - Open the files without a password, for a provider configured without a private key password.
    type: bool
    default: false
  expiry_warning_days:
    description:
      - A certificate expiring within this many days is a C(warning) finding.
    type: int
    default: 30
  expiry_error_days:
    description:
      - A certificate expiring within this many days is an C(error) finding. An expired one is C(critical).
    type: int
    default: 7
  nodes:
    description:
      - The M(iis.ccs.ccs_info) result of each web node, by node name (for example built from C(hostvars)).
      - "When given, the result holds RV(nodes) and RV(matrix), and the findings include host names bound with no file in
        the store, store files no node binds, and providers that are disabled or read another store."
      - A node running Windows Server 2016 (build 14393) turns C(aes256) files into findings.
    type: dict
  store_location:
    description:
      - The UNC path every node's provider should read, for example C(\\fs01\ccs). Without it, provider locations are not compared.
    type: str
  acl_audit:
    description:
      - Audit the SMB share and the NTFS ACL of its folder on the task's host (the file server).
    type: dict
    suboptions:
      share:
        description:
          - The share name, or its UNC path (the share name is taken from it).
        type: str
        required: true
      reader_accounts:
        description:
          - The CCS accounts (the providers' user names). They must be able to read, and nothing more.
        type: list
        elements: str
        required: true
      publisher_accounts:
        description:
          - The accounts that publish. Change on the share and Modify on NTFS are fine; Full Control is a finding.
        type: list
        elements: str
        default: []
      administrator_accounts:
        description:
          - Accounts the organisation lets administer the share.
        type: list
        elements: str
        default: ['BUILTIN\Administrators', 'NT AUTHORITY\SYSTEM']
      administrator_access:
        description:
          - The most access O(acl_audit.administrator_accounts) may have without a finding.
        type: str
        choices: [full, change, read, none]
        default: full
extends_documentation_fragment:
  - iis.ccs.store_destinations
attributes:
  check_mode:
    description: Read-only; runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
  platform:
    description: Host destinations and O(acl_audit) need a Windows target; C(smb) and C(local) destinations are read from the controller.
    platforms: windows, posix
    support: full
notes:
  - "Cost: one listing and one read of every file per replica; for a host destination both are one round trip each."
  - Any account in O(acl_audit) that Windows shows as C(DOMAIN\name) also matches a bare C(name).
seealso:
  - module: iis.ccs.ccs_cert_publish
  - module: iis.ccs.ccs_info
"""

EXAMPLES = r"""
- name: Audit the store on both file servers, the farm and the share ACL
  iis.ccs.ccs_store_info:
    destinations:
      - type: host_path
        path: D:\CCS
      - type: smb
        path: \\fs02\ccs
        user_name: CONTOSO\svc-publish
        password: "{{ vault_publisher_password }}"
    private_key_password: "{{ vault_ccs_private_key_password }}"
    nodes: "{{ dict(groups['ccs_web_nodes'] | zip(groups['ccs_web_nodes'] | map('extract', hostvars, 'ccs_node_info'))) }}"
    store_location: \\fs01\ccs
    acl_audit:
      share: ccs
      reader_accounts: [CONTOSO\svc-ccs]
      publisher_accounts: [CONTOSO\svc-publish]
  register: store
  delegate_to: fs01
"""

RETURN = r"""
generated_at:
  description: When the store was read (UTC).
  returned: always
  type: str
  sample: "2026-12-02T05:00:00Z"
replicas:
  description:
    - Each replica as read.
    - C(orphan_records) names the PFX files whose iis.ccs records remain while the file is gone (deleted by hand);
      the C(orphan_record) finding says the same.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "host_path:D:\\CCS", "type": "host_path", "path": "D:\\CCS", "status": "ok", "error": null, "file_count": 3,
            "stale_temp_files": [], "orphan_records": [], "round_trips": 2}]
files:
  description:
    - One entry per file name found on any replica, with the facts of its content (from the first replica that holds it).
    - C(replicas) maps each readable replica to C(present) and C(identity) (equal identities mean the same certificate, key and chain).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "www.contoso.com.pfx", "host_name": "www.contoso.com", "name_matches": true, "published_by_iis_ccs": true,
            "drift": false, "opened": true, "open_error": null, "thumbprint": "3A0F...", "subject": "CN=www.contoso.com",
            "issuer": "CN=R11,O=Let's Encrypt,C=US", "dns_names": ["www.contoso.com"], "not_before": "2026-10-01T00:00:00Z",
            "not_after": "2026-12-30T00:00:00Z", "days_left": 27, "key_type": "RSA", "key_size": 2048, "encryption": "compatible",
            "self_signed": false, "chain_length": 1, "chain_complete": true, "chain_problem": null, "identity": "bundle:9c1e...",
            "replicas": {"host_path:D:\\CCS": {"present": true, "identity": "bundle:9c1e..."}}}]
findings:
  description: Everything worth acting on, most severe first; C(check) is a stable id, C(subject) the file, replica, node or account.
  returned: always
  type: list
  elements: dict
  sample: [{"check": "expiring", "severity": "warning", "subject": "www.contoso.com.pfx",
            "message": "www.contoso.com.pfx expires on 2026-12-30, in 27 days", "fix": "renew the certificate and publish it"}]
summary:
  description: Counts by severity, the same counts at or above each severity (what a gate compares), the next expiry and the expiry thresholds.
  returned: always
  type: dict
  sample: {"files": 3, "replicas": 1, "replicas_failed": 0, "nodes": 3,
           "findings": {"critical": 0, "error": 0, "warning": 1, "info": 0},
           "at_or_above": {"critical": 0, "error": 0, "warning": 1, "info": 1}, "healthy": false,
           "next_expiry": {"file": "www.contoso.com.pfx", "not_after": "2026-12-30T00:00:00Z", "days_left": 27},
           "expiry_warning_days": 30, "expiry_error_days": 7}
nodes:
  description: What each node's ccs_info result says about the provider and the host names it binds with CCS.
  returned: when O(nodes) is given
  type: list
  elements: dict
  sample: [{"name": "web01", "readable": true, "provider_enabled": true, "store_location": "\\\\fs01\\ccs", "build": 20348,
            "bound": ["www.contoso.com"]}]
matrix:
  description: One row per bound host name, with the store file that serves it (or null) and whether each node binds it.
  returned: when O(nodes) is given
  type: list
  elements: dict
  sample: [{"host_name": "www.contoso.com", "file": "www.contoso.com.pfx", "nodes": {"web01": {"bound": true}}}]
acl:
  description: The share and its entries (share permissions and NTFS), each with the worst finding on it or C(ok).
  returned: when O(acl_audit) is given
  type: dict
  sample: {"share": {"name": "ccs", "path": "D:\\CCS"}, "entries": [{"scope": "share", "account": "LAB\\svc-ccs", "access": "Read",
           "level": "read", "type": "Allow", "verdict": "ok"}]}
round_trips:
  description:
    - How many round trips to the task's host the task took.
      On a host new to this collection version, one more (the scripts are sent once, and kept on the host).
  returned: always
  type: int
  sample: 3
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_STORE_INFO


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **CCS_STORE_INFO)
    module.fail_json(msg="iis.ccs.ccs_store_info runs on the controller as an action plugin; it cannot run on the target.")


if __name__ == "__main__":
    main()
