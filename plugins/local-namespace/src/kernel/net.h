// Network namespace: the sandbox gets only a loopback interface, brought up by its init.
#pragma once

namespace grid::localns {

/// Child side: ioctl(SIOCSIFFLAGS) lo up; reports and _exit(127)s on failure.
void bringLoopbackUp(int report_fd);

}  // namespace grid::localns
