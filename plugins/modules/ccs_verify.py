#!/usr/bin/python
# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ccs_verify
short_description: Prove on the wire which certificate an IIS node serves for each host name
version_added: 0.2.0
description:
  - Opens a real TLS connection with SNI to the node for each host name and judges the certificate that comes back.
    Reading configuration back cannot show what clients get; this can, for example a share that is down with nothing cached, a
    wrong private-key password, a file name that does not match the name clients send, a missing intermediate,
    a node still serving last year's certificate, a non-SNI default binding answering instead of CCS.
  - The names come from the node's CCS https bindings (one read, as M(iis.ccs.ccs_info) does) or from O(host_names).
    The port is the binding's (O(port) for O(host_names)).
  - Per name it reports the served leaf's SHA-256 and SHA-1 thumbprints, subject, DNS names, expiry date and days
    left, the TLS version, whether the chain builds to the trust anchors (O(ca_path), or the controller's system
    store) and which intermediate is missing, whether the leaf covers the name, and whether it is the certificate
    the store holds (O(store), read with the same back ends and credentials as M(iis.ccs.ccs_cert_publish)) or the
    one given in O(expected).
  - Each name gets a verdict with a fix hint. The task fails when any name has a problem, unless O(fail_on=never).
  - Read-only; runs the same in check mode. From the controller the handshakes run concurrently and need no round
    trip to the node when O(host_names) is given.
author:
  - iis.ccs contributors (@iis-ccs)
options:
  host_names:
    description:
      - The names to check. Empty means every host name of the node's CCS https bindings.
      - Unicode names are sent as SNI in their punycode (A-label) form. A wildcard is checked with the name
        O(wildcard_label) under it, since a wildcard cannot be sent as SNI.
    type: list
    elements: str
    default: []
  sites:
    description:
      - With names from bindings, only the bindings of these IIS sites. Empty means every site.
    type: list
    elements: str
    default: []
  from:
    description:
      - C(controller) connects from the Ansible controller to the node's address.
      - C(node) runs a small operation on the node that connects to its own loopback (or the binding's address)
        with .NET C(SslStream), for controllers that cannot reach the node's port. SChannel sends the SNI
        extension with the C(targetHost) given to C(AuthenticateAsClient), and sends none when it is an IP address
        (U(https://github.com/dotnet/runtime/issues/81590)), so the operation connects the socket to the address
        and passes the host name as C(targetHost).
    type: str
    choices: [controller, node]
    default: controller
  address:
    description:
      - Where to connect from the controller. Default is the host's C(ansible_host), else its inventory name.
    type: str
  port:
    description:
      - The port for O(host_names). Names from bindings use each binding's port.
    type: int
    default: 443
  port_map:
    description:
      - "Binding port to the port to connect to from the controller, for NAT, port forwarding or test labs, e.g. C({443: 8443})."
    type: dict
    default: {}
  wildcard_label:
    description:
      - For a wildcard name C(*.example.com), the SNI sent is C(<wildcard_label>.example.com).
    type: str
    default: ccs-verify
  timeout:
    description:
      - Seconds one connection and handshake may take.
    type: float
    default: 10.0
  concurrency:
    description:
      - How many handshakes run at once (1 to 512).
    type: int
    default: 32
  ca_path:
    description:
      - A PEM file of the CA certificates the chain must lead to. Default is the controller's system trust store.
    type: path
  expected:
    description:
      - Host name to the thumbprint (SHA-256 or SHA-1 hex) of the certificate it must serve, for example
        registered from M(iis.ccs.ccs_cert_publish). Mutually exclusive with O(store).
    type: dict
    default: {}
  store:
    # type and the suboptions: the iis.ccs.store_destinations.store fragment.
    description:
      - The certificate store to compare with. The node must serve the certificate of the store's C(<name>.pfx)
        (or C(_.<parent>.pfx) for a wildcard). Same keys as a destination of M(iis.ccs.ccs_cert_publish).
  private_key_password:
    description:
      - The password that opens the store's PFX files (the CCS provider's private-key password), with O(store).
    type: str
  expiry_warning_days:
    description:
      - A certificate expiring within this many days gets the verdict C(expiring).
    type: int
    default: 30
  fail_on:
    description:
      - C(problem) fails the task when any name has a problem (every verdict but C(ok) and C(expiring)).
      - C(warning) also fails on C(expiring). C(never) only reports.
    type: str
    choices: [problem, warning, never]
    default: problem
extends_documentation_fragment:
  - iis.ccs.store_destinations.store
attributes:
  check_mode:
    description: Read-only; runs the same in check mode.
    support: full
  diff_mode:
    description: Read-only; never returns a diff.
    support: none
  platform:
    description: Target is a Windows host running IIS.
    platforms: windows
    support: full
notes:
  - Handshakes accept whatever is served (no verification during the handshake), so a wrong, expired or untrusted
    certificate is reported, not refused.
  - With O(from=node) the chain reported is the one the node's own chain engine builds.
seealso:
  - module: iis.ccs.ccs_cert_publish
  - module: iis.ccs.ccs_binding
  - module: iis.ccs.ccs_info
"""

EXAMPLES = r"""
- name: Check every CCS binding of the node, comparing with the store
  iis.ccs.ccs_verify:
    ca_path: /etc/pki/corp-root.pem
    store:
      type: smb
      path: \\fs01\ccs
      user_name: LAB\svc-ccs
      password: "{{ ccs_store_password }}"
    private_key_password: "{{ ccs_private_key_password }}"

- name: Check two names from the node itself, only report
  iis.ccs.ccs_verify:
    from: node
    host_names: [www.contoso.com, "*.shop.contoso.com"]
    fail_on: never
  register: served
"""

RETURN = r"""
checks:
  description: One entry per name checked.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The host name (Unicode form).
      type: str
      sample: www.contoso.com
    sni:
      description: The SNI sent (A-label form).
      type: str
      sample: www.contoso.com
    address:
      description: Where the connection went.
      type: str
    port:
      description: The port connected to.
      type: int
    verdict:
      description: >-
        C(ok), C(connection_refused), C(handshake_failure), C(reset), C(timeout), C(unreachable),
        C(wrong_certificate), C(expired), C(name_mismatch), C(incomplete_chain), C(untrusted) or C(expiring).
      type: str
      sample: ok
    ok:
      description: Whether the verdict is C(ok).
      type: bool
    hint:
      description: What to do about the verdict.
      type: str
    detail:
      description: The connection or TLS error, for connection-level verdicts.
      type: str
      returned: when no certificate was served
    thumbprint_sha256:
      description: SHA-256 of the served leaf (uppercase hex).
      type: str
      returned: when a certificate was served
    thumbprint:
      description: SHA-1 thumbprint of the served leaf, as Windows shows it.
      type: str
      returned: when a certificate was served
    subject:
      description: Subject of the served leaf.
      type: str
      returned: when a certificate was served
    dns_names:
      description: DNS names of the served leaf.
      type: list
      elements: str
      returned: when a certificate was served
    not_after:
      description: Expiry of the served leaf (UTC).
      type: str
      returned: when a certificate was served
    days_left:
      description: Whole days until expiry (negative when expired).
      type: int
      returned: when a certificate was served
    tls_version:
      description: The TLS version negotiated.
      type: str
      returned: when a certificate was served
      sample: TLSv1.3
    chain_complete:
      description: Whether the served certificates link the leaf to a root (trusted or not).
      type: bool
      returned: when a certificate was served
    chain_trusted:
      description: Whether the chain leads to one of the trust anchors.
      type: bool
      returned: when a certificate was served
    missing_intermediates:
      description: Issuer names the node should have sent but did not.
      type: list
      elements: str
      returned: when a certificate was served
    covers_name:
      description: Whether the leaf's DNS names cover the name (RFC 6125).
      type: bool
      returned: when a certificate was served
    matches_store:
      description: Whether the leaf is the certificate the store holds (or O(expected) names); null when there was nothing to compare.
      type: bool
      returned: when a certificate was served
    expected_thumbprint:
      description: The thumbprint compared with.
      type: str
      returned: when a certificate was served
    expected_from:
      description: C(store) or C(expected).
      type: str
      returned: when a certificate was served
    store_problem:
      description: Why the store's certificate for the name could not be read.
      type: str
      returned: when the store could not tell
summary:
  description: Counts of names checked, ok, with problems and with warnings.
  returned: always
  type: dict
  sample: {total: 2, ok: 2, problems: 0, warnings: 0}
round_trips:
  description:
    - Round trips to the node (0 with O(host_names) from the controller).
      On a host new to this collection version, one more (the scripts are sent once, and kept on the host).
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_VERIFY


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **CCS_VERIFY)
    module.fail_json(msg="iis.ccs.ccs_verify runs on the controller as an action plugin; it cannot run on the target.")


if __name__ == "__main__":
    main()
