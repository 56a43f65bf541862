# iis.ccs operation: probe_store_access
# Read-only probe used in check mode: maps the store share with the provider account's
# credential and lists it from this node, exactly as the first step of configure_provider
# does, so check mode reports an account that cannot read the store. Changes nothing.
# logon_checked is false for a local store, whose credential only the provider cmdlets check.
# Uses: share_drive, store_folder, store_access
# Params: store_location, user_name, password.
param($Params)

$logonChecked = Test-StoreAccess $Params
return @{ readable = $true; logon_checked = $logonChecked }
