// Capabilities of sandbox processes. They run as uid 0 without a user namespace, so the
// capability sets are what separates them from host root. Kept (Docker's defaults minus
// SETPCAP, MKNOD, NET_RAW, SYS_CHROOT, SETFCAP, AUDIT_WRITE): CHOWN, DAC_OVERRIDE, FOWNER,
// FSETID, KILL, SETGID, SETUID, NET_BIND_SERVICE — enough for package managers and for
// dropping to another user. Everything else (SYS_ADMIN, SYS_PTRACE, SYS_MODULE, SYS_RAWIO,
// NET_ADMIN, SYS_BOOT, SYS_TIME, DAC_READ_SEARCH, ...) also leaves the bounding set, so no
// execve can regain it.
#pragma once

#include <cstdint>

namespace grid::localns {

/// The kept capabilities as a bit mask (bit N = capability N).
uint64_t keptCapabilities();

/// Child side: drops the bounding set and sets effective/permitted/inheritable to
/// keptCapabilities(). Reports and _exit(127)s on failure.
void dropCapabilities(int report_fd);

}  // namespace grid::localns
