"""Every open question only a real Windows host can settle, with where it was raised.

tools/windows-check runs tests/windows/test_open_questions_windows.py and writes one report line per
entry here (Markdown and JSON), with the value the host showed. A question the run could not answer
says why: "needs a real host" (the target was the emulated lab), or "needs configuration" (an
environment variable names what to provide).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Question:
    id: str
    question: str
    raised_in: str
    # "host": only PowerShell on Windows can answer; "module": the collection's modules answer it, so
    # the emulated lab can too (a dry run proves the harness, not Windows).
    kind: str = "host"


QUESTIONS: tuple[Question, ...] = (
    Question("sslccs-subkey-names", "What are the subkey names under SslCcsBindingInfo for a ccs=<port> entry?",
             "issue 12; read_host_state.ps1 / apply_bindings.ps1 match on the text after the last ':'"),
    Question("ciphertext-digest-stable", "Do the provider's ciphertext digests stay the same across reads?",
             "issue 12; _library/registry.ps1 (Get-ProviderView)", "module"),
    Question("file-replace-change-only", "Does File.Replace over SMB work for a Change-only account: 3 arguments, 4 arguments?",
             "issue 12 point 1; _library/store_write.ps1 (Update-StoreFile); KB 274487"),
    Question("publish-renewal-change-only", "Does a renewal by a Change-only publisher succeed through ccs_cert_publish?",
             "issue 12 point 1", "module"),
    Question("iis-creates-ccs-entry", "Does IIS create the ccs=<port> HTTP.sys entry by itself when a CCS binding is committed?",
             "issue 12; ccs-behaviour.md 'Open'"),
    Question("ecdsa-pfx-2016", "Does Windows load an ECDSA PFX with its private key (the CCS prerequisite) on this build?",
             "issue 12; ccs-behaviour.md 'Open' (ECDSA/CNG keys under CCS)"),
    Question("aes256-pfx", "Does this build load an AES-256 (PBES2) PFX, or only the compatible 3DES one (2016)?",
             "issue 12; ccs_cert_publish option encryption"),
    Question("error-1219", "Does a second mapping of one server with other credentials fail with 1219, and with what text?",
             "issue 12 point 2; _library/share_drive.ps1 (Get-MappingMessage)"),
    Question("clixml-error-winrm", "What does a host error look like over winrm (no CLIXML residue in the message)?",
             "issue 12; _core/host_ops.py (decode_answer)", "module"),
    Question("clixml-error-psrp", "What does a host error look like over psrp?", "issue 12; _core/host_ops.py", "module"),
    Question("clixml-error-ssh", "What does a host error look like over ssh?", "issue 12; _core/host_ops.py", "module"),
    Question("server-service-validatecredentials", "Is the Server service (LanmanServer) running, and does the access check work without it?",
             "issue 12 point 2; _library/store_access.ps1"),
    Question("language-mode", "What language mode does a session forced to ConstrainedLanguage report, and do the loaders refuse it?",
             "issue 12 point 3; _core/host_ops.py (CACHED_LOADER, SENDING_LOADER)"),
    Question("remove-psdrive-2250", "Does Remove-PSDrive throw once the connection is gone, and with what error?",
             "issue 12 point 4; _library/share_drive.ps1 (Dismount-StoreShare)"),
    Question("new-psdrive-leak", "Does a New-PSDrive with a missing root leave an SMB connection behind?",
             "issue 12 point 4; _library/share_drive.ps1 (Mount-StoreShare)"),
    Question("provider-cmdlets", "Which *-WebCentralCertProvider cmdlets exist, and does Clear-IISCentralCertProvider have -Force?",
             "issue 12 point 5; _library/provider_cmdlets.ps1"),
    Question("directory-exists-double-hop", "Over WinRM without share credentials: Directory.Exists answer, and the listing's error?",
             "issue 12 point 6; _library/store_folder.ps1 (Test-StoreFolder)"),
    Question("provider-path-as-caller", "Does Enable-WebCentralCertProvider check a UNC path as the WinRM user?",
             "issue 12 point 7; _library/provider_cmdlets.ps1 (Invoke-WithStoreMapped)"),
    Question("hash-binding-edit-ipport", "Deleting certificateHash in place: does the ipport= entry stay?",
             "issue 12 point 8; _library/site_bindings.ps1 (Convert-Binding)"),
    Question("timestamp-granularity", "What last-write time does the store's file system keep for a time set to the tick?",
             "issue 12 point 9; _publish/plan.py (same_mtime)"),
    Question("clear-private-key-password-scope", "Does Clear-WebCentralCertProvider -PrivateKeyPassword clear only that value?",
             "issue 12 point 10; _library/provider_cmdlets.ps1 (Clear-ProviderPrivateKeyPassword)"),
)

BY_ID = {q.id: q for q in QUESTIONS}
