# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a task reaches the replicas of the certificate store: the back ends and their credentials.

One text for every module that reads or writes the store, matching PUBLISH_DESTINATION_SPEC in
module_utils/_argspecs.py: ccs_cert_publish, ccs_store_info and ccs_renew_plan take the list
O(destinations) (DOCUMENTATION), ccs_verify the single O(store) (STORE). A module may give the option
its own description (ansible-core keeps the module's keys over the fragment's); the suboptions stay here.

The two texts differ only in the option's name and type: ansible-test's yamllint reads each as a
string literal, so they cannot be built from one; tests/unit/test_argspec_docs.py keeps them equal.
"""

from __future__ import annotations


class ModuleDocFragment:
    # extends_documentation_fragment: iis.ccs.store_destinations (the replicas of the store, a list)
    DOCUMENTATION = r"""
options:
  destinations:
    description:
      - The replicas of the certificate store (the same store in several folders or file servers).
    type: list
    elements: dict
    required: true
    suboptions:
      type:
        description:
          - C(host_path) is a folder on the task's Windows host (for example the file server itself).
          - C(host_unc) is a UNC path reached through the task's Windows host with O(destinations[].user_name) and
            O(destinations[].password), mapped for the one operation (no credential delegation, no double hop).
          - C(smb) is a UNC path reached directly from the controller with the smbprotocol Python package.
          - C(local) is a folder on the controller.
        type: str
        required: true
        choices: [host_path, host_unc, smb, local]
      path:
        description:
          - The folder. C(D:\CCS) for C(host_path), C(\\server\share\folder) for C(host_unc) and C(smb), an absolute
            controller path for C(local). Relative segments (C(.) or C(..)) are refused.
          - The folder must exist.
        type: str
        required: true
      name:
        description:
          - Name of the replica in results and messages. Defaults to C(<type>:<path>). Names must be unique within a task.
        type: str
      user_name:
        description:
          - "Account for the share (C(host_unc) required, C(smb) optional: without it smbprotocol uses Kerberos).
            Not allowed for C(host_path) and C(local)."
        type: str
      password:
        description:
          - Password of O(destinations[].user_name).
        type: str
      port:
        description:
          - TCP port of the SMB server, C(smb) only.
        type: int
        default: 445
      encrypt:
        description:
          - Require SMB 3 encryption, C(smb) only.
        type: bool
        default: true

notes:
  - "C(host_unc) maps the share with New-PSDrive and explicit credentials for the duration of the operation. Windows refuses a
    second set of credentials for a server the host is already connected to under another account (error 1219)."
  - The C(smb) type needs the C(smbprotocol) Python package on the controller.
"""

    # extends_documentation_fragment: iis.ccs.store_destinations.store (one store to read, a dict)
    STORE = r"""
options:
  store:
    description:
      - The certificate store, reached like a destination of M(iis.ccs.ccs_cert_publish).
    type: dict
    suboptions:
      type:
        description:
          - C(host_path) is a folder on the task's Windows host (for example the file server itself).
          - C(host_unc) is a UNC path reached through the task's Windows host with O(store.user_name) and
            O(store.password), mapped for the one operation (no credential delegation, no double hop).
          - C(smb) is a UNC path reached directly from the controller with the smbprotocol Python package.
          - C(local) is a folder on the controller.
        type: str
        required: true
        choices: [host_path, host_unc, smb, local]
      path:
        description:
          - The folder. C(D:\CCS) for C(host_path), C(\\server\share\folder) for C(host_unc) and C(smb), an absolute
            controller path for C(local). Relative segments (C(.) or C(..)) are refused.
          - The folder must exist.
        type: str
        required: true
      name:
        description:
          - Name of the replica in results and messages. Defaults to C(<type>:<path>). Names must be unique within a task.
        type: str
      user_name:
        description:
          - "Account for the share (C(host_unc) required, C(smb) optional: without it smbprotocol uses Kerberos).
            Not allowed for C(host_path) and C(local)."
        type: str
      password:
        description:
          - Password of O(store.user_name).
        type: str
      port:
        description:
          - TCP port of the SMB server, C(smb) only.
        type: int
        default: 445
      encrypt:
        description:
          - Require SMB 3 encryption, C(smb) only.
        type: bool
        default: true

notes:
  - "C(host_unc) maps the share with New-PSDrive and explicit credentials for the duration of the operation. Windows refuses a
    second set of credentials for a server the host is already connected to under another account (error 1219)."
  - The C(smb) type needs the C(smbprotocol) Python package on the controller.
"""
