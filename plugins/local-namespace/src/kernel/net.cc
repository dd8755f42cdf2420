#include "kernel/net.h"

#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "util/syscall_error.h"

namespace grid::localns {

void bringLoopbackUp(int report_fd) {
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) childFail(report_fd, "socket", "AF_INET, SOCK_DGRAM", errno);
  struct ifreq req;
  ::memset(&req, 0, sizeof(req));
  ::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock, SIOCGIFFLAGS, &req) != 0)
    childFail(report_fd, "ioctl", "lo, SIOCGIFFLAGS", errno);
  req.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (::ioctl(sock, SIOCSIFFLAGS, &req) != 0)
    childFail(report_fd, "ioctl", "lo, SIOCSIFFLAGS", errno);
  ::close(sock);
}

}  // namespace grid::localns
