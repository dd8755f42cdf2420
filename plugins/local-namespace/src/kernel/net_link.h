// Outbound networking of a sandbox, the apply part: the veth pair made and configured over
// rtnetlink (no `ip` process), the host-wide lock of each /30, and leftover removal. The
// plan (addresses, names) is net_plan.h. Runs in the server, never in the sandbox: its
// processes hold no CAP_NET_ADMIN.
#pragma once

#include <cstdint>
#include <string>

#include "grid/result.h"
#include "kernel/net_plan.h"
#include "util/fd.h"

namespace grid::localns {

/// Where link locks live: one file per /30 (named by its network address), flock()ed by its
/// holders, shared by every Grid server on the host whatever its pool.
inline constexpr const char* kLinkLockDir = "/run/grid/net-links";

/// A /30 of the pool, in use while `lock` is open in any process: the server until destroy
/// and the sandbox's PID 1 for its whole life (as with user id slices, userns.h).
struct LinkAllocation {
  SandboxLinkPlan plan;
  UniqueFd lock;
  bool created = false;  // the veth exists (so destroy deletes it; never a same-named other)
};

/// Takes the first free /30 of `pool` at or after `hint` (wrapping).
Result<LinkAllocation> allocateLink(const Ipv4Pool& pool, uint32_t hint,
                                    const std::string& sandbox_id,
                                    const std::string& lock_dir = kLinkLockDir);

/// Creates the veth pair with its peer made directly inside `netns_fd` as eth0, addresses
/// both ends, brings them up and sets the sandbox's default route via the host end. On a
/// failure after the pair was made, it deletes the pair again.
Result<void> createSandboxLink(const SandboxLinkPlan& plan, int netns_fd);

/// Deletes host link `name` (its peer goes with it). Absent is fine.
Result<void> deleteHostLink(const std::string& name);

/// net.ipv4.ip_forward = 1; `*changed` says whether it was off.
Result<void> enableIpForwarding(bool* changed);

}  // namespace grid::localns
