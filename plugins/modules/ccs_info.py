#!/usr/bin/python
# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ccs_info
short_description: Read the IIS Centralized Certificate Store state of a Windows host
version_added: 0.1.0
description:
  - Returns, in one round trip to the host, its Windows build, the IIS version, whether the
    Centralized SSL Certificate Support feature is installed, the central certificate provider
    configuration, the bindings of IIS sites with their C(sslFlags), and the HTTP.sys SSL entries.
  - Secrets are never returned. For the provider's two passwords only whether they are set is reported.
  - Runs on the controller as an action plugin and sends one small PowerShell operation over the
    task's own connection (C(winrm), C(psrp) or C(ssh) with the PowerShell shell).
author:
  - iis.ccs contributors (@iis-ccs)
options:
  gather:
    description:
      - Which parts of the host state to read. Leaving parts out makes the answer smaller on hosts with many sites.
    type: list
    elements: str
    choices: [windows, features, provider, sites, httpsys]
    default: [windows, features, provider, sites, httpsys]
  sites:
    description:
      - Only report these IIS sites (matched case-insensitively). An empty list reports every site.
    type: list
    elements: str
    default: []
  expect:
    description:
      - Check the node against what a farm depends on, in the same single read, and return the outcome as RV(expect).
      - The check is made in Python on the controller; its cost grows linearly with the number of host names,
        so a node with hundreds of host names is checked in one task instead of one task per name.
      - The module reads the C(provider), C(sites) and C(httpsys) parts it needs even when O(gather) leaves them out.
      - The task does not fail when the check finds problems; test RV(expect.passed), for example with M(ansible.builtin.assert).
    type: dict
    suboptions:
      store_location:
        description:
          - The provider must be enabled with this store location (compared case-insensitively). Leave it out to skip the provider check.
        type: str
      bindings:
        description:
          - Per site, the host names that must have an HTTPS binding taking its certificate from the central
            certificate store; each port used must also have an HTTP.sys C(ccs=<port>) entry.
        type: list
        elements: dict
        default: []
        suboptions:
          site:
            description: IIS site name (matched case-insensitively).
            type: str
            required: true
          host_names:
            description: Host names that must be bound. Unicode names are compared by their A-label.
            type: list
            elements: str
            required: true
          port:
            description: TCP port of the bindings.
            type: int
            default: 443
          ip:
            description: IP address of the bindings, C(*) for all addresses.
            type: str
            default: "*"
          sni:
            description: Whether the bindings must require SNI.
            type: bool
            default: true
extends_documentation_fragment: []
attributes:
  check_mode:
    description: Read-only; runs the same in check mode.
    support: full
  diff_mode:
    description: Read-only; never returns a diff.
    support: none
  platform:
    description: Target is a Windows host.
    platforms: windows
    support: full
notes:
  - Reads the provider configuration from C(HKLM\SOFTWARE\Microsoft\IIS\CentralCertProvider) rather than parsing cmdlet
    output, which differs between Windows releases.
  - Supported targets are Windows Server 2016, 2019, 2022 and 2025. Other builds are reported with C(windows.supported=false).
seealso:
  - module: iis.ccs.ccs_provider
  - module: iis.ccs.ccs_binding
"""

EXAMPLES = r"""
- name: Read the CCS state of every web node
  iis.ccs.ccs_info:
  register: ccs

- name: Only the provider and the bindings of one site
  iis.ccs.ccs_info:
    gather: [provider, sites, httpsys]
    sites: [Default Web Site]
  register: ccs

- name: Fail when the provider is not enabled
  ansible.builtin.assert:
    that: ccs.provider.enabled

- name: Check a node against the farm's expectations, in one read
  iis.ccs.ccs_info:
    gather: [provider, sites, httpsys]
    sites: [Default Web Site]
    expect:
      store_location: \\fs01\ccs
      bindings:
        - site: Default Web Site
          host_names: [www.contoso.com, api.contoso.com]
  register: ccs

- name: Fail with every missing or wrong item
  ansible.builtin.assert:
    that: ccs.expect.passed
    fail_msg: "{{ ccs.expect.problems | join('; ') }}"
"""

RETURN = r"""
windows:
  description: Windows build information. Absent when C(windows) was not gathered.
  returned: when gathered
  type: dict
  contains:
    hostname:
      description: Computer name.
      type: str
      sample: WEB01
    build:
      description: Windows build number.
      type: int
      sample: 20348
    product_name:
      description: Product name from the registry.
      type: str
      sample: Windows Server 2022 Datacenter
    edition_id:
      description: Edition identifier.
      type: str
      sample: ServerDatacenter
    installation_type:
      description: C(Server), C(Server Core) or C(Client).
      type: str
      sample: Server
    release:
      description: The Windows Server release name for supported builds, else the product name.
      type: str
      sample: Windows Server 2022
    supported:
      description: Whether iis.ccs supports this build (Windows Server 2016, 2019, 2022 or 2025).
      type: bool
      sample: true
iis:
  description: IIS presence and version.
  returned: when C(features) was gathered
  type: dict
  contains:
    installed:
      description: Whether IIS (Web-Server) is installed.
      type: bool
      sample: true
    version:
      description: IIS version as major.minor, empty when IIS is missing.
      type: str
      sample: "10.0"
    ccs_feature_installed:
      description: Whether Centralized SSL Certificate Support (Web-CertProvider) is installed.
      type: bool
      sample: true
provider:
  description: Central certificate provider configuration. Secrets are never returned.
  returned: when C(provider) was gathered
  type: dict
  contains:
    configured:
      description: Whether a store location is configured.
      type: bool
      sample: true
    enabled:
      description: Whether the provider is enabled.
      type: bool
      sample: true
    store_location:
      description: The certificate store path (local or UNC).
      type: str
      sample: \\fs01\ccs
    user_name:
      description: The account IIS uses to read the store.
      type: str
      sample: CONTOSO\svc-ccs
    polling_interval:
      description: How often, in seconds, IIS polls the store for changes.
      type: int
      sample: 300
    password_set:
      description: Whether the account password is set.
      type: bool
      sample: true
    private_key_password_set:
      description: Whether the private-key password shared by all PFX files is set.
      type: bool
      sample: true
sites:
  description: IIS sites with their bindings.
  returned: when C(sites) was gathered
  type: list
  elements: dict
  contains:
    name:
      description: Site name.
      type: str
      sample: Default Web Site
    id:
      description: Site id.
      type: int
      sample: 1
    bindings:
      description: Bindings of the site.
      type: list
      elements: dict
      contains:
        protocol:
          description: C(http) or C(https) (or another protocol IIS knows).
          type: str
          sample: https
        ip:
          description: IP address, C(*) for all.
          type: str
          sample: "*"
        port:
          description: TCP port.
          type: int
          sample: 443
        host:
          description: Host name, empty for none.
          type: str
          sample: www.contoso.com
        binding_information:
          description: The binding as IIS stores it, C(ip:port:host).
          type: str
          sample: "*:443:www.contoso.com"
        ssl_flags:
          description: The C(sslFlags) integer.
          type: int
          sample: 3
        ssl_flag_names:
          description: The named bits of C(ssl_flags).
          type: list
          elements: str
          sample: [Sni, CentralCertStore]
        uses_ccs:
          description: Whether this HTTPS binding takes its certificate from the central certificate store.
          type: bool
          sample: true
        uses_sni:
          description: Whether this HTTPS binding requires Server Name Indication.
          type: bool
          sample: true
        certificate_hash:
          description: Thumbprint of a certificate bound from a local store, empty for CCS bindings.
          type: str
          sample: ""
        certificate_store:
          description: Local certificate store name of a thumbprint binding.
          type: str
          sample: ""
httpsys:
  description: HTTP.sys SSL configuration entries.
  returned: when C(httpsys) was gathered
  type: dict
  contains:
    ccs_ports:
      description: Ports with a C(ccs=<port>) central certificate store entry.
      type: list
      elements: int
      sample: [443]
    ip_bindings:
      description: Legacy IP:port certificate entries; these win over CCS for clients they match.
      type: list
      elements: str
      sample: ["0.0.0.0:443"]
    sni_bindings:
      description: Host name:port certificate entries of thumbprint SNI bindings.
      type: list
      elements: str
      sample: ["www.contoso.com:443"]
expect:
  description: The outcome of the O(expect) check.
  returned: when O(expect) is set
  type: dict
  contains:
    passed:
      description: Whether the node has everything O(expect) asks for.
      type: bool
      sample: false
    problems:
      description: Every missing or wrong item, one sentence each, naming the site and binding.
      type: list
      elements: str
      sample: ["site 'Default Web Site': HTTPS binding *:443:api.contoso.com taking its certificate from the central certificate store with SNI is missing"]
    checked_bindings:
      description: How many expected bindings were checked.
      type: int
      sample: 200
round_trips:
  description:
    - How many round trips to the host the task took.
      On a host new to this collection version, one more (the scripts are sent once, and kept on the host).
  returned: always
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_INFO


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **CCS_INFO)
    module.fail_json(msg="iis.ccs.ccs_info runs on the controller as an action plugin; it cannot run on the target.")


if __name__ == "__main__":
    main()
