#!/usr/bin/python
# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ccs_binding
short_description: Manage HTTPS bindings of an IIS site that take their certificates from the Centralized Certificate Store
version_added: 0.1.0
description:
  - Makes sure an existing IIS site has (or does not have) HTTPS bindings for a list of host names that use the
    Centralized Certificate Store (CCS), and that the HTTP.sys C(ccs=<port>) entry those bindings need exists on the host.
  - An existing HTTPS binding for the same IP, port and host name that uses a certificate hash is converted to a CCS binding
    in place, and an C(http) binding on that IP, port and host name becomes C(https); no duplicate binding is added.
    The per-host HTTP.sys certificate entry of a converted SNI binding is removed after the change is committed, because
    HTTP.sys would otherwise keep serving the old certificate for that host instead of the one from the store.
  - Additions and conversions come before removals, and all binding changes are saved in one configuration commit, so
    no host name that should keep a binding is ever left without one.
  - The HTTP.sys C(ccs=<port>) entry is removed only when this task removed a CCS binding and no site on the host has a
    CCS binding left on that port.
  - Reads the host in one round trip; a second round trip applies the changes, only when something must change.
  - This module manages bindings only. The site must exist; create and manage sites with C(microsoft.iis.website)
    (or the deprecated C(community.windows.win_iis_website)).
author:
  - iis.ccs contributors (@iis-ccs)
options:
  site:
    description:
      - Name of an existing IIS site, matched case-insensitively.
      - Required with O(host_names), unless O(bindings) lists the sites.
    type: str
  host_names:
    description:
      - Host names of the bindings. Internationalised names may be given in Unicode or as punycode; bindings use the
        punycode (A-label) form, which is what clients send in SNI. Matching is case-insensitive.
      - A wildcard is allowed as the whole leftmost label (C(*.example.com)); IIS 10 or later is needed.
      - Required with O(site).
    type: list
    elements: str
  bindings:
    description:
      - Manage the bindings of many sites in one task, instead of O(site) and O(host_names). Each entry takes the options
        of one site (O(bindings[].site) and O(bindings[].host_names), and optionally any of the per-site options below);
        an option an entry leaves unset takes the task-level value, so a loop item becomes an entry unchanged.
      - "The host is read once for every site of the task, and each entry that must change is applied with one more round
        trip, in the order given. An unchanged node with hundreds of sites costs one round trip instead of one per site."
      - Entries are checked against each other before the host is contacted. Two entries cannot manage the same site, IP
        and port (merge their host names), and two O(state=present) entries cannot bind the same IP, port and host name
        (two sites with the same binding cannot both start). To move a host name between sites, list the entry that
        removes it (O(bindings[].state=absent)) before the one that adds it.
      - Check mode, diff, warnings and the refusals work as for one site; results are listed per entry in RV(entries).
      - Mutually exclusive with O(site) and O(host_names).
    type: list
    elements: dict
    version_added: 0.2.0
    suboptions:
      site:
        description: As O(site).
        type: str
        required: true
      host_names:
        description: As O(host_names).
        type: list
        elements: str
        required: true
      state:
        description: As O(state); unset takes O(state).
        type: str
        choices: [present, absent]
      port:
        description: As O(port); unset takes O(port).
        type: int
      ip:
        description: As O(ip); unset takes O(ip).
        type: str
      sni:
        description: As O(sni); unset takes O(sni).
        type: bool
      exclusive:
        description: As O(exclusive); unset takes O(exclusive).
        type: bool
      disable_http2:
        description: As O(disable_http2); unset takes O(disable_http2).
        type: bool
      disable_ocsp_stapling:
        description: As O(disable_ocsp_stapling); unset takes O(disable_ocsp_stapling).
        type: bool
      disable_quic:
        description: As O(disable_quic); unset takes O(disable_quic).
        type: bool
      disable_tls13:
        description: As O(disable_tls13); unset takes O(disable_tls13).
        type: bool
      disable_legacy_tls:
        description: As O(disable_legacy_tls); unset takes O(disable_legacy_tls).
        type: bool
  state:
    description:
      - C(present) makes sure each host name has a CCS HTTPS binding; C(absent) removes the HTTPS binding of each host
        name on O(ip) and O(port) (whether it uses CCS or a certificate hash).
    type: str
    choices: [present, absent]
    default: present
  port:
    description: TCP port of the bindings.
    type: int
    default: 443
  ip:
    description:
      - IP address of the bindings, or C(*) for all unassigned addresses. Only bindings with exactly this address are
        matched; C(*) never matches bindings on a specific address.
    type: str
    default: "*"
  sni:
    description:
      - Whether the bindings require Server Name Indication (sslFlags bit C(Sni)).
      - Turning it off is allowed but returns a warning; clients that send no SNI cannot be matched to a host name.
    type: bool
    default: true
  exclusive:
    description:
      - With O(state=present), also remove the site's other HTTPS bindings on O(port) (any IP address or host name),
        after the wanted bindings are in place. Ignored with O(state=absent).
    type: bool
    default: false
  return_bindings:
    description:
      - Whether the result lists every binding of the site in RV(bindings) (with O(bindings), of each entry's site in RV(entries)).
      - Set V(false) when only the outcome matters and the site has hundreds of host names. Ansible processes every value of
        a registered result, so the list costs time on every run (about 0.3 seconds per task for 200 names on a busy
        2-core controller). The C(iis.ccs.web_node) role turns it off.
    type: bool
    default: true
  disable_http2:
    description:
      - Set (V(true)) or clear (V(false)) the C(DisableHTTP2) sslFlags bit. Unset keeps whatever the binding has.
      - Setting any of the C(disable_*) flags needs Windows Server 2019 (build 17763) or later.
    type: bool
  disable_ocsp_stapling:
    description: Set or clear the C(DisableOCSPStp) sslFlags bit. Unset keeps whatever the binding has.
    type: bool
  disable_quic:
    description: Set or clear the C(DisableQUIC) sslFlags bit. Unset keeps whatever the binding has.
    type: bool
  disable_tls13:
    description: Set or clear the C(DisableTLS13) (TLS 1.3 over TCP) sslFlags bit. Unset keeps whatever the binding has.
    type: bool
  disable_legacy_tls:
    description: Set or clear the C(DisableLegacyTLS) sslFlags bit. Unset keeps whatever the binding has.
    type: bool
attributes:
  check_mode:
    description: Plans and reports the changes without making them.
    support: full
  diff_mode:
    description: Returns the site's bindings and the HTTP.sys entries before and after.
    support: full
  platform:
    description: Target is a Windows host.
    platforms: windows
    support: full
notes:
  - The central certificate provider must be enabled (see M(iis.ccs.ccs_provider)); otherwise the task fails and changes nothing.
  - sslFlags bits this module does not manage, and flags left unset, are preserved exactly.
  - Warns when HTTP.sys has a legacy IP:port certificate entry on the same port, because HTTP.sys checks it before the
    central certificate store.
  - Bindings are written with Microsoft.Web.Administration, which works on Windows Server 2016 too; the HTTP.sys entry is
    managed with C(netsh http add/delete sslcert ccs=<port>).
seealso:
  - module: iis.ccs.ccs_provider
  - module: iis.ccs.ccs_info
  - module: microsoft.iis.website
"""

EXAMPLES = r"""
- name: CCS bindings for two host names on the default site
  iis.ccs.ccs_binding:
    site: Default Web Site
    host_names:
      - www.contoso.com
      - shop.contoso.com

- name: Only these host names on 443, IDN and wildcard included, HTTP/2 disabled
  iis.ccs.ccs_binding:
    site: shop
    host_names: [shop.contoso.com, bücher.contoso.com, "*.api.contoso.com"]
    exclusive: true
    disable_http2: true

- name: Remove a binding
  iis.ccs.ccs_binding:
    site: shop
    host_names: [old.contoso.com]
    state: absent

- name: Every site of a high-density node in one task (one read of the node when nothing changes)
  iis.ccs.ccs_binding:
    bindings:
      - site: shop
        host_names: [shop.contoso.com, www.shop.contoso.com]
      - site: blog
        host_names: [blog.contoso.com]
      - site: api
        host_names: [api.contoso.com]
        port: 8443
    disable_legacy_tls: true
"""

RETURN = r"""
site:
  description: Name of the site as IIS spells it.
  returned: success, without O(bindings)
  type: str
  sample: Default Web Site
port:
  description: The port the task managed.
  returned: success, without O(bindings)
  type: int
  sample: 443
bindings:
  description: All bindings of the site after the task (predicted in check mode).
  returned: success, without O(bindings) and unless O(return_bindings=false)
  type: list
  elements: dict
  contains:
    protocol:
      description: C(http) or C(https).
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
      description: Host name (A-label form), empty for none.
      type: str
      sample: www.contoso.com
    binding_information:
      description: The binding as IIS stores it, C(ip:port:host).
      type: str
      sample: "*:443:www.contoso.com"
    ssl_flags:
      description: The sslFlags integer.
      type: int
      sample: 3
    ssl_flag_names:
      description: The named bits of RV(bindings[].ssl_flags).
      type: list
      elements: str
      sample: [Sni, CentralCertStore]
    uses_ccs:
      description: Whether this HTTPS binding takes its certificate from the central certificate store.
      type: bool
      sample: true
    uses_sni:
      description: Whether this HTTPS binding requires SNI.
      type: bool
      sample: true
    certificate_hash:
      description: Thumbprint of a certificate from a local store, empty for CCS bindings.
      type: str
      sample: ""
    certificate_store:
      description: Local certificate store of a thumbprint binding.
      type: str
      sample: ""
httpsys:
  description: HTTP.sys SSL entries after the task (predicted in check mode).
  returned: success
  type: dict
  contains:
    ccs_ports:
      description: Ports with a C(ccs=<port>) entry.
      type: list
      elements: int
      sample: [443]
    ip_bindings:
      description: Legacy IP:port certificate entries; they win over CCS for the clients they match.
      type: list
      elements: str
      sample: []
    sni_bindings:
      description: Host name:port certificate entries of thumbprint SNI bindings.
      type: list
      elements: str
      sample: []
actions:
  description:
    - The ordered steps taken (or, in check mode, that would be taken). Each has an C(action) of C(ensure_ccs_entry),
      C(add_binding), C(convert_binding), C(set_binding_flags), C(remove_binding), C(commit), C(delete_sni_entry) or
      C(remove_ccs_entry_if_unused), its details, and, once applied, an C(outcome) (C(done), C(present), C(absent) or
      C(kept), with C(used_by) naming the sites that still use the ccs entry).
  returned: success, without O(bindings)
  type: list
  elements: dict
  sample:
    - {action: ensure_ccs_entry, port: 443, outcome: done}
    - {action: add_binding, protocol: https, binding_information: "*:443:www.contoso.com", ssl_flags: 3, outcome: done}
    - {action: commit, outcome: done}
entries:
  description:
    - With O(bindings), one result per entry, in the order given, each with the keys a one-site task returns (RV(site),
      RV(port), RV(bindings), RV(httpsys), RV(actions), and C(changed)). C(httpsys) of an entry is as it stood after
      that entry; RV(httpsys) at the top is as it stands after the last.
  returned: success, with O(bindings)
  type: list
  elements: dict
  sample:
    - changed: true
      site: shop
      port: 443
      bindings: [{protocol: https, binding_information: "*:443:shop.contoso.com", ssl_flags: 3}]
      httpsys: {ccs_ports: [443], ip_bindings: [], sni_bindings: []}
      actions: [{action: add_binding, binding_information: "*:443:shop.contoso.com", outcome: done}]
round_trips:
  description:
    - Round trips to the host (1 when nothing changes, 2 when something does; with O(bindings), 1 plus one per entry
      that changes). On a host new to this collection version, one more (the scripts are sent once, and kept on the host).
  returned: always
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_BINDING


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **CCS_BINDING)
    module.fail_json(msg="iis.ccs.ccs_binding runs on the controller as an action plugin; it cannot run on the target.")


if __name__ == "__main__":
    main()
