#!/usr/bin/python
# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ccs_provider
short_description: Install Centralized SSL Certificate Support and enable, configure, disable or clear the IIS central certificate provider
version_added: 0.1.0
description:
  - Makes sure the Centralized SSL Certificate Support feature is installed (C(Web-CertProvider) on Windows Server,
    C(IIS-CertProvider) on client SKUs), and that the IIS central certificate provider is enabled with a store location,
    the account IIS reads the store with, that account's password and the private-key password shared by all PFX files;
    or that it is disabled (settings kept) or cleared (settings removed).
  - Reads the current configuration from the registry (C(HKLM\SOFTWARE\Microsoft\IIS\CentralCertProvider)), never by
    parsing cmdlet output. An unchanged run costs one round trip to the host; a changing run costs one more, in which the
    host checks access, installs features, applies the settings and writes the secret record, in that order.
  - Before anything changes, the host checks that the account can log on and read the store path from that node. If not,
    the task fails naming the account, the path and the Windows reason, and the previous configuration stays untouched.
  - Runs on the controller as an action plugin and sends small PowerShell operations over the task's own connection
    (C(winrm), C(psrp) or C(ssh) with the PowerShell shell). Nothing can prompt; the C(*Credential) cmdlets, which do, are
    never used.
author:
  - iis.ccs contributors (@iis-ccs)
options:
  state:
    description:
      - C(enabled) installs the feature when needed and enables the provider with the given settings.
      - C(disabled) disables the provider and keeps its settings (C(Disable-WebCentralCertProvider)). Nothing happens
        when it is not enabled.
      - C(absent) removes the provider settings (C(Clear-IISCentralCertProvider) after disabling it) and the iis.ccs secret record.
      - With C(disabled) and C(absent), O(store_location), O(user_name), O(password), O(private_key_password) and
        O(polling_interval) are refused, because IIS cannot change the settings of a disabled provider.
    type: str
    choices: [enabled, disabled, absent]
    default: enabled
  store_location:
    description:
      - The certificate store folder, as an absolute local path (C(D:\CCS)) or a UNC path (C(\\fileserver\ccs\web)).
      - Relative paths, forward slashes, C(.) or C(..) segments, characters Windows forbids in names (less-than, greater-than,
        colon, double quote, pipe, question mark, asterisk), single quotes, backticks, semicolons and C($\() are refused
        before anything is sent to the host.
      - Compared case-insensitively, ignoring a trailing backslash.
      - Required with O(state=enabled).
    type: str
  user_name:
    description:
      - The account IIS uses to read the store, as C(DOMAIN\user), C(user@domain.example), C(.\localuser) (an account of
        the node itself) or C(DOMAIN\account$). A name without a domain is refused as ambiguous.
      - Required with O(state=enabled).
    type: str
  password:
    description:
      - Password of O(user_name). Any printable characters are allowed (they are passed as data, never as code); control
        characters such as newlines are refused.
      - Required with O(state=enabled). Never returned, logged or shown in a diff.
    type: str
  private_key_password:
    description:
      - The password that protects every PFX file in the store (IIS uses one for all of them).
      - Required with O(state=enabled) unless O(allow_no_private_key_password=true).
    type: str
  allow_no_private_key_password:
    description:
      - Explicitly run the provider without a private-key password, which means the PFX files must carry none. Always
        setting one is the guidance; this opt-out returns a warning.
      - The provider is enabled with WebAdministration's C(Enable-WebCentralCertProvider), where the private-key
        password is optional; a previously set one is removed with C(Clear-WebCentralCertProvider -PrivateKeyPassword),
        after which the other provider settings are checked and put back if that cmdlet removed them.
    type: bool
    default: false
  polling_interval:
    description:
      - How often, in seconds, IIS polls the store for changes (registry DWORD C(PollingInterval); the IIS default is
        300). Unset keeps what the host has.
    type: int
  install_feature:
    description:
      - Install Centralized SSL Certificate Support when it is missing (C(Install-WindowsFeature Web-CertProvider) on
        Windows Server, C(Enable-WindowsOptionalFeature -Online -FeatureName IIS-CertProvider -All -NoRestart) on client
        SKUs). With V(false) a missing feature fails the task.
    type: bool
    default: true
  install_iis:
    description:
      - Also install IIS (C(Web-Server), or C(IIS-WebServerRole) on client SKUs) when it is missing. With V(false), the
        default, a host without IIS fails the task before anything changes.
    type: bool
    default: false
  update_secrets:
    description:
      - C(on_change) applies O(password) and O(private_key_password) only when they differ from what iis.ccs applied last,
        or when they were changed outside Ansible (see the notes).
      - C(always) re-applies both secrets on every run, which then always reports C(changed).
    type: str
    choices: [on_change, always]
    default: on_change
attributes:
  check_mode:
    description:
      - Reports exactly what would change and changes nothing. When an enabled provider would change, one read-only probe
        checks that the account can read the store, so access failures show in check mode too (two round trips).
    support: full
  diff_mode:
    description: >-
      Shows the provider configuration before and after; secrets appear only as C(<set>), C(<not set>) or C(<re-applied>)
      (C(<re-applied>) only for a secret that was already set and this task sets again).
    support: full
  platform:
    description: Target is a Windows host.
    platforms: windows
    support: full
notes:
  - "Secrets and idempotency: IIS stores both passwords encrypted with the machine key and randomly padded, so they cannot be
    read back or compared. iis.ccs keeps no reversible copy of any secret. When it applies secrets it writes, under
    C(HKLM\\SOFTWARE\\iis.ccs\\CentralCertProvider), a random salt, one scrypt fingerprint (N=32768, r=8, p=1) of
    the user name, the password and the private-key password together, and the SHA-256 digests of the encrypted values IIS
    wrote. The next run compares the digests first (a difference re-applies the secrets without computing anything), then
    recomputes the fingerprint with the stored salt: if it matches, the secrets are unchanged (C(changed=false)).
    Records of earlier releases (two fingerprints) are still recognised and replaced at the next apply."
  - "Changes made outside Ansible: re-setting a password in IIS Manager or with a cmdlet makes IIS write new encrypted
    values, so their digests no longer match the record and the next run re-applies the secrets from the task
    (C(secrets.reason=changed_outside_ansible)). A provider configured by hand without a record has its secrets applied
    once (C(no_record)). Changes to the store location, user name or polling interval are read from the registry and
    always noticed."
  - "Access check: the account's credential is validated against its domain (or the node, for C(.\\name)); a UNC store is
    then mapped as that account and listed, so the file server checks the password and the share and NTFS permissions.
    For a local store path only existence is checked. An account that cannot log on with a password (for example a gMSA)
    fails the check."
  - "Supported targets are Windows Server 2016, 2019, 2022 and 2025. On any other build (including client SKUs) the module
    still runs and returns a warning naming the build and the supported releases; results there are not verified."
  - "C(reboot_required) reports what C(Install-WindowsFeature) says (C(RestartNeeded) other than C(No)) or what
    C(Enable-WindowsOptionalFeature) says; Centralized SSL Certificate Support normally needs no restart."
seealso:
  - module: iis.ccs.ccs_info
  - module: iis.ccs.ccs_binding
  - module: iis.ccs.ccs_cert_publish
"""

EXAMPLES = r"""
- name: Install Centralized SSL Certificate Support and enable the provider on a share
  iis.ccs.ccs_provider:
    store_location: \\fs01\ccs
    user_name: CONTOSO\svc-ccs
    password: "{{ vault_ccs_reader_password }}"
    private_key_password: "{{ vault_ccs_pfx_password }}"
    polling_interval: 60

- name: Re-apply the secrets on every run (reports changed every time)
  iis.ccs.ccs_provider:
    store_location: \\fs01\ccs
    user_name: CONTOSO\svc-ccs
    password: "{{ vault_ccs_reader_password }}"
    private_key_password: "{{ vault_ccs_pfx_password }}"
    update_secrets: always

- name: Disable the provider, keeping its settings
  iis.ccs.ccs_provider:
    state: disabled

- name: Remove the provider settings
  iis.ccs.ccs_provider:
    state: absent
"""

RETURN = r"""
provider:
  description:
    - The provider configuration after the task (in check mode, what it would be). Secrets are never returned.
  returned: always
  type: dict
  contains:
    ccs_feature_installed:
      description: Whether Centralized SSL Certificate Support is installed.
      type: bool
      sample: true
    enabled:
      description: Whether the provider is enabled.
      type: bool
      sample: true
    store_location:
      description: The certificate store path.
      type: str
      sample: \\fs01\ccs
    user_name:
      description: The account IIS reads the store with.
      type: str
      sample: CONTOSO\svc-ccs
    polling_interval:
      description: Polling interval in seconds.
      type: int
      sample: 300
    password:
      description: C(<set>), C(<not set>), or C(<re-applied>) when this task set again a secret that was already set.
      type: str
      sample: <set>
    private_key_password:
      description: C(<set>), C(<not set>), or C(<re-applied>) when this task set again a secret that was already set.
      type: str
      sample: <set>
steps:
  description: The steps taken (in check mode, the steps that would be taken), in order. Empty when nothing changes.
  returned: always
  type: list
  elements: str
  sample:
    - check that CONTOSO\svc-ccs can read \\fs01\ccs from this node
    - set store_location (Set-WebCentralCertProvider)
secrets:
  description: Whether the secrets are (or would be) applied, and why.
  returned: always
  type: dict
  contains:
    applied:
      description: Whether the task applies the password and private-key password.
      type: bool
      sample: false
    reason:
      description:
        - C(unchanged), C(no_record) (no iis.ccs record yet), C(rotated) (a secret or the user differs from the record),
          C(changed_outside_ansible) (IIS holds other encrypted values than recorded), C(always) (O(update_secrets=always)),
          C(enabling) (enabling takes all values at once) or C(not_applicable) (O(state=disabled) or O(state=absent)).
      type: str
      sample: unchanged
reboot_required:
  description: Whether a feature installation asked for a restart.
  returned: always
  type: bool
  sample: false
round_trips:
  description:
    - How many round trips to the host the task took.
      On a host new to this collection version, one more (the scripts are sent once, and kept on the host).
  returned: always
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_PROVIDER


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **CCS_PROVIDER)
    module.fail_json(msg="iis.ccs.ccs_provider runs on the controller as an action plugin; it cannot run on the target.")


if __name__ == "__main__":
    main()
