# iis.ccs operation: probe_store_access
# Read-only probe used in check mode: validates the provider account and lists the PFX
# files of the store path from this node, exactly as the first step of configure_provider
# does, so check mode reports an account that cannot read the store. Changes nothing.
# Uses: store_access
# Params: store_location, user_name, password.
param($Params)

Test-StoreAccess $Params
return @{ readable = $true }
