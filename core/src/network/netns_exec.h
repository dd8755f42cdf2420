// The apply step of the egress policy: running `nft` and reading addresses inside a sandbox's
// network namespace. Each call works on a short-lived thread that setns()es into the namespace
// (a namespace is per thread), so the server's own threads never move.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "grid/result.h"

namespace grid {

/// Runs `fn` on a new thread that first joined the network namespace `netns_fd` (-1: stays in
/// the server's own), and returns what it returned.
Result<void> runInNetworkNamespace(int netns_fd, const std::function<Result<void>()>& fn);

/// Runs `nft_binary` with `args`, `script` on its stdin, inside `netns_fd`; its stdout on
/// success, kInternal with its stderr otherwise; killed at `timeout`.
Result<std::string> runNft(int netns_fd, const std::string& nft_binary,
                           const std::vector<std::string>& args, std::string_view script,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// The IPv4/IPv6 networks of the non-loopback interfaces seen in `netns_fd` (-1: the server's
/// own namespace), as CIDR text; with `hosts_only`, each address alone (/32, /128). IPv6 link
/// local addresses are left out (they name a link, not a host).
Result<std::vector<std::string>> interfaceNetworks(int netns_fd, bool hosts_only);

}  // namespace grid
