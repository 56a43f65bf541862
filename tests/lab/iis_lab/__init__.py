"""An emulated Windows host for the iis.ccs tests: IIS, HTTP.sys, registry and file system.

It answers the same named operations as the collection's PowerShell scripts and
enforces the documented CCS behaviours, so modules are tested against those rules.
Never shipped as a plugin; see docs/developing.md ("The lab").
"""
