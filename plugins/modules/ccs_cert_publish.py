#!/usr/bin/python
# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ccs_cert_publish
short_description: Validate a certificate and publish CCS-ready PFX files to every replica of the store, atomically
version_added: 0.1.0
description:
  - Reads a certificate (PFX, or PEM certificate, key and chain as ACME clients write them) on the controller, validates it,
    and writes one PFX file per host name into each destination folder (replica) of an IIS Centralized Certificate Store.
  - "You decide: the certificate source, which O(host_names) get a file (by default every DNS name of the certificate), the
    O(destinations) and how many must succeed (O(min_replicas)), the store's O(private_key_password) and O(encryption), and
    whether files other tasks published are removed (O(prune))."
  - Nothing is written when validation fails (wrong PFX password, key not matching, expired, a host name not covered, ...).
    Re-running with the same certificate changes nothing; a renewed certificate replaces its files.
  - C(host_path) and C(host_unc) destinations go through the task's Windows host; C(smb) and C(local) destinations are
    reached from the controller, so a task with only those can run with C(delegate_to=localhost).
  - How files are named, written, recorded and renewed is described in the notes and in C(docs/user-guide.md), section "How publishing works".
author:
  - iis.ccs contributors (@iis-ccs)
options:
  pfx_path:
    description:
      - Path on the controller of a PFX (PKCS#12) file holding the certificate, its private key and ideally the chain.
    type: path
  pfx_content:
    description:
      - The PFX file, base64 encoded, for example a vaulted variable holding the output of C(base64 -w0 site.pfx).
    type: str
  pfx_password:
    description:
      - Password of O(pfx_path) or O(pfx_content). Omit for a PFX without password.
    type: str
  certificate_path:
    description:
      - Path on the controller of the PEM certificate (for example C(cert.pem) of an ACME client). A full chain file works too;
        the first certificate is the leaf.
    type: path
  certificate_content:
    description:
      - The PEM certificate as text.
    type: str
  private_key_path:
    description:
      - Path on the controller of the PEM private key of the certificate. Required with O(certificate_path) or O(certificate_content).
    type: path
  private_key_content:
    description:
      - The PEM private key as text (from Ansible Vault).
    type: str
  private_key_passphrase:
    description:
      - Passphrase of an encrypted PEM private key.
    type: str
  chain_path:
    description:
      - Path on the controller of the PEM intermediate certificates (for example C(chain.pem)).
    type: path
  chain_content:
    description:
      - The PEM intermediate certificates as text.
    type: str
  host_names:
    description:
      - The host names to publish a file for. Each must be covered by the certificate; C(*.example.com) publishes
        C(_.example.com.pfx). IDN names may be given in Unicode or punycode.
      - By default, every DNS name of the certificate.
    type: list
    elements: str
  certificates:
    description:
      - Publish many certificates in one task, instead of the single-certificate options above. Each entry takes
        exactly those source options (O(pfx_path), O(pfx_content), O(pfx_password), O(certificate_path), O(certificate_content),
        O(private_key_path), O(private_key_content), O(private_key_passphrase), O(chain_path), O(chain_content), O(host_names)),
        so a loop item becomes an entry unchanged; what describes the store (O(destinations), O(private_key_password),
        O(min_replicas), O(prune)) stays at the task level, shared by every certificate.
      - "One task does per replica one session, one look-up of its files and their records (more than 64 files, or O(prune):
        one listing and one read of the record pack), and one commit for every certificate;
        each certificate is exported once, however many files and replicas hold it; replicas reached from the controller
        (C(smb), C(local)) are written concurrently."
      - Validation, renewal, check mode, diff and O(min_replicas) work exactly as for one certificate; results are listed per
        certificate in RV(certificates). A host name may belong to only one certificate of the list.
      - With O(prune=true) the store holds exactly the listed certificates' files afterwards.
      - Mutually exclusive with the single-certificate source options.
    type: list
    elements: dict
    suboptions:
      pfx_path:
        description: As O(pfx_path).
        type: path
      pfx_content:
        description: As O(pfx_content).
        type: str
      pfx_password:
        description: As O(pfx_password).
        type: str
      certificate_path:
        description: As O(certificate_path).
        type: path
      certificate_content:
        description: As O(certificate_content).
        type: str
      private_key_path:
        description: As O(private_key_path).
        type: path
      private_key_content:
        description: As O(private_key_content).
        type: str
      private_key_passphrase:
        description: As O(private_key_passphrase).
        type: str
      chain_path:
        description: As O(chain_path).
        type: path
      chain_content:
        description: As O(chain_content).
        type: str
      host_names:
        description: As O(host_names).
        type: list
        elements: str
      encryption:
        description: This certificate's PFX encryption; by default the task's O(encryption).
        type: str
        choices: [compatible, aes256]
  destinations:
    # type, elements, required and the suboptions: the iis.ccs.store_destinations fragment.
    description:
      - The replicas of the certificate store. Each is published independently; see O(min_replicas).
  private_key_password:
    description:
      - The store's private key password, the one the central certificate provider was configured with. Every file is
        encrypted with it. A change of this password re-encrypts every file on the next run.
      - Required unless O(allow_no_private_key_password=true).
    type: str
  allow_no_private_key_password:
    description:
      - Write files without a password, for a provider configured without a private key password.
    type: bool
    default: false
  encryption:
    description:
      - PFX encryption to write.
      - C(compatible) is pbeWithSHA1And3-KeyTripleDES-CBC with a SHA-1 MAC, which every supported Windows Server imports.
      - C(aes256) is PBES2 AES-256-CBC with SHA-256. It is stronger but Windows Server 2016 cannot open it (it reports
        "The specified network password is not correct"); choose it only when every web server reading the store runs
        Windows Server 2019 or later.
    type: str
    choices: [compatible, aes256]
    default: compatible
  expiry_warning_days:
    description:
      - Warn when the certificate expires within this many days. An expired or not yet valid certificate always fails.
    type: int
    default: 30
  min_replicas:
    description:
      - How many destinations must succeed for the task to succeed. Defaults to all of them. A failed replica is
        reported in RV(replicas) and healed by the next run.
    type: int
  prune:
    description:
      - Also remove every other C(*.pfx) file directly in each destination folder whose name is not one of this task's
        file names, whoever published it. Other files (the manifest and its records, non-PFX files, sub folders) are kept.
      - Use it only when one task publishes everything the store should hold.
    type: bool
    default: false
extends_documentation_fragment:
  - iis.ccs.store_destinations
attributes:
  check_mode:
    description: Reads every replica and reports what would be created, updated or removed; writes nothing.
    support: full
  diff_mode:
    description: Per replica, the files before and after with thumbprint and not-after date; never key material or passwords.
    support: full
  platform:
    description: Host destinations need a Windows target; C(smb) and C(local) destinations run on the controller.
    platforms: windows, posix
    support: full
notes:
  - "File names: the lowercase Unicode form of the host name (never punycode), C(_.) for a wildcard, plus C(.pfx), as IIS looks
    them up. Each file is re-encrypted with O(private_key_password) and keeps the full chain."
  - "Each file is written to a temporary name in the same folder, renamed over the old file and read back; a failure leaves the
    old file in place. Temporary files of interrupted runs (older than 15 minutes) are removed by a later write; a task that
    looks its files up searches for them at most once per 15 minutes per folder (the time of C(.iis-ccs-swept)). Each folder
    keeps a small record per PFX file, C(.iis-ccs-rec-<name hash>-<thumbprint>.json), and a header, C(.iis-ccs-manifest.json)
    (no secrets), so an unchanged re-publish moves no PFX bytes."
  - "An unchanged source is not loaded again: each of its files' records keeps a digest of the source bytes and options, and
    when they, the PFX password (checked against the file's MAC) and every replica's records still match, only the
    certificate's dates are checked again (see RV(sources_loaded)). Any change, and any certificate that must be written,
    gets the full load and every check first. Before the store is read, a PFX source is opened quickly (its MAC, its bags,
    its key checked by arithmetic instead of OpenSSL's primality tests) to learn its thumbprint and, without O(host_names),
    its file names, so its records are read by exact name; this proves nothing and is not counted in RV(sources_loaded).
    A PEM source without O(host_names) is known only from its records, so such a task lists the folder (reading the
    record pack)."
  - "Renewal removes a host name's old file only when it still holds a certificate this task supersedes; files this collection
    did not publish are never touched unless O(prune=true)."
  - "Manifest records: an unchanged task reads its own records by exact name (a hash of each file name and the thumbprint it
    publishes), and a renewal finds the files of the certificate it supersedes by that thumbprint, so a task's cost does not
    grow with the store. Each record is replaced atomically and only by the task publishing its file, so two publishers of
    different certificates at once never lose each other's records. C(.iis-ccs-records.json) holds copies of all records for
    tasks that list the whole folder; it is only a cache. A C(.iis-ccs-manifest.json) written by an earlier release (format 1,
    every record in one file) is still read, and the next write turns it into records and replaces it with the format 2
    header (same salt)."
  - "Two publishers at once: each writes its own temporary file and renames it, so readers only ever see a whole file; the
    last rename wins, and a record that no longer matches is simply re-identified by the next run."
seealso:
  - module: iis.ccs.ccs_provider
  - module: iis.ccs.ccs_binding
"""

EXAMPLES = r"""
- name: Publish an ACME certificate to both file servers of the store (run once, from the controller)
  iis.ccs.ccs_cert_publish:
    certificate_path: /etc/letsencrypt/live/shop.contoso.com/cert.pem
    private_key_path: /etc/letsencrypt/live/shop.contoso.com/privkey.pem
    chain_path: /etc/letsencrypt/live/shop.contoso.com/chain.pem
    private_key_password: "{{ vault_ccs_private_key_password }}"
    destinations:
      - type: smb
        name: fs01
        path: \\fs01.contoso.com\ccs
        user_name: CONTOSO\svc-publish
        password: "{{ vault_publish_password }}"
      - type: smb
        name: fs02
        path: \\fs02.contoso.com\ccs
        user_name: CONTOSO\svc-publish
        password: "{{ vault_publish_password }}"
    min_replicas: 1
  delegate_to: localhost
  run_once: true

- name: Publish a PFX for two of its names through a Windows host
  iis.ccs.ccs_cert_publish:
    pfx_path: files/wildcard.pfx
    pfx_password: "{{ vault_pfx_password }}"
    host_names: ["*.contoso.com", "contoso.com"]
    private_key_password: "{{ vault_ccs_private_key_password }}"
    destinations:
      - type: host_unc
        path: \\fs01\ccs
        user_name: CONTOSO\svc-publish
        password: "{{ vault_publish_password }}"
  run_once: true

- name: Publish a whole inventory of certificates in one task (one SMB session per replica)
  iis.ccs.ccs_cert_publish:
    certificates:
      - pfx_path: files/shop.pfx
        pfx_password: "{{ vault_pfx_password }}"
      - certificate_path: /etc/letsencrypt/live/api.contoso.com/cert.pem
        private_key_path: /etc/letsencrypt/live/api.contoso.com/privkey.pem
        chain_path: /etc/letsencrypt/live/api.contoso.com/chain.pem
    private_key_password: "{{ vault_ccs_private_key_password }}"
    destinations:
      - type: smb
        path: \\fs01.contoso.com\ccs
        user_name: CONTOSO\svc-publish
        password: "{{ vault_publish_password }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
certificates:
  description:
    - With O(certificates), one entry per certificate in the order given, each with RV(thumbprint), RV(not_after),
      RV(encryption) and RV(files) as described for one certificate, and whether any of its files changed.
  returned: with O(certificates)
  type: list
  elements: dict
  sample: [{"changed": true, "thumbprint": "3C2F...", "not_after": "2027-02-21T12:00:00Z", "encryption": "compatible", "files": []}]
thumbprint:
  description: SHA-1 thumbprint of the published certificate (upper-case hex).
  returned: success or replica failure, for one certificate (without O(certificates))
  type: str
  sample: 3C2F1A9E0B7D44E1A5F0C3B2D1E4F5A6B7C8D9E0
not_after:
  description: End of the certificate's validity, UTC, ISO 8601.
  returned: success or replica failure, for one certificate (without O(certificates))
  type: str
  sample: "2027-02-21T12:00:00Z"
encryption:
  description: The PFX encryption written, C(none) for files written without a password (O(allow_no_private_key_password=true)).
  returned: success or replica failure, for one certificate (without O(certificates))
  type: str
  sample: compatible
files:
  description: One entry per host name.
  returned: success or replica failure, for one certificate (without O(certificates))
  type: list
  elements: dict
  contains:
    host_name:
      description: The host name (Unicode form).
      type: str
      sample: shop.contoso.com
    file_name:
      description: The file name in the store.
      type: str
      sample: shop.contoso.com.pfx
    thumbprint:
      description: Thumbprint of the certificate in the file.
      type: str
    not_after:
      description: Not-after date of the certificate in the file.
      type: str
    action:
      description: C(created), C(updated) or C(unchanged) (the strongest change over the replicas), C(failed) when no replica succeeded.
      type: str
      sample: created
    replicas:
      description: Per replica name, C(created), C(updated), C(unchanged) or C(failed).
      type: dict
      sample: {"fs01": "created", "fs02": "failed"}
removed:
  description: Files removed (or that would be, in check mode), with per replica C(removed) (a superseded file of this
    certificate) or C(pruned) (by O(prune)).
  returned: success or replica failure
  type: list
  elements: dict
  sample: [{"file_name": "old.contoso.com.pfx", "replicas": {"fs01": "removed"}}]
replicas:
  description: One entry per destination, in the order given.
  returned: success or replica failure
  type: list
  elements: dict
  contains:
    name:
      description: The destination name.
      type: str
    type:
      description: The destination type.
      type: str
    path:
      description: The destination folder.
      type: str
    status:
      description: C(changed), C(unchanged) or C(failed).
      type: str
    error:
      description: Why the replica failed.
      type: str
      returned: when failed
    created:
      description: File names created (or that would be).
      type: list
      elements: str
    updated:
      description: File names replaced (or that would be).
      type: list
      elements: str
    removed:
      description: File names removed (or that would be).
      type: list
      elements: str
    manifest_updated:
      description: Whether the store's manifest records (or its header or record pack) were written.
      type: bool
    pfx_bytes_read:
      description: PFX bytes read from this replica (identifying files the record could not vouch for, and read-back checks).
      type: int
    pfx_bytes_written:
      description: PFX bytes written to this replica.
      type: int
    other_bytes:
      description: Other bytes moved (listing, manifest header, records and record pack, and for host destinations the operation payloads).
      type: int
    round_trips:
      description: Calls made to this replica (host operations for C(host_path) and C(host_unc)).
      type: int
replicas_succeeded:
  description: How many replicas succeeded.
  returned: success or replica failure
  type: int
min_replicas:
  description: How many had to.
  returned: success or replica failure
  type: int
round_trips:
  description:
    - Round trips to the task's Windows host (0 when there are only C(smb) and C(local) destinations).
      On a host new to this collection version, one more (the scripts are sent once, and kept on the host).
  returned: success or replica failure
  type: int
  sample: 1
sources_loaded:
  description:
    - How many certificate sources were loaded and checked in full (the PFX or PEM parsed, the key checked against the certificate).
    - The others had the same bytes and options as when they were published, which the store's records show,
      and took the short path (a digest of the source, the PFX password against the file's MAC, the dates re-checked).
    - 0 on an unchanged re-run of PFX sources.
  returned: success or replica failure
  type: int
  sample: 0
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_CERT_PUBLISH


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **CCS_CERT_PUBLISH)
    module.fail_json(msg="iis.ccs.ccs_cert_publish runs on the controller as an action plugin; it cannot run on the target.")


if __name__ == "__main__":
    main()
