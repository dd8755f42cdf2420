// The host side of sandbox networking: the instance's nftables table (net_plan.h
// planHostRules) installed with Debian's `nft`, and accept rules in the iptables FORWARD
// chain where one with a drop policy exists (Docker's). Run once per server, not per sandbox.
#pragma once

#include <string>

#include "grid/result.h"
#include "kernel/net_plan.h"

namespace grid::localns {

/// Installs (replacing) the instance's table; adds the FORWARD accepts if `iptables` exists.
Result<void> installHostRules(const std::string& instance, const Ipv4Pool& pool);

/// Removes both; absent rules are fine.
Result<void> removeHostRules(const std::string& instance);

}  // namespace grid::localns
