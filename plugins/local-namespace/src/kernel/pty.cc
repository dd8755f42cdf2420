#include "kernel/pty.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

#include "util/syscall_error.h"

namespace grid::localns {
namespace {

// The ptmx node of every devpts instance: character device 5:2.
constexpr unsigned kPtmxMajor = 5;
constexpr unsigned kPtmxMinor = 2;

}  // namespace

Result<SandboxPty> openSandboxPty(pid_t init_pid, TerminalSize size) {
  const std::string root_path = "/proc/" + std::to_string(init_pid) + "/root";
  UniqueFd root(::open(root_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return sysFail(ErrorCode::kInternal, "open", root_path, errno);
  open_how how{};
  // O_NONBLOCK: whatever the tenant put there (a FIFO) cannot hold the open.
  how.flags = O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
  const char* ptmx_path = "dev/pts/ptmx";
  UniqueFd master(
      static_cast<int>(::syscall(SYS_openat2, root.get(), ptmx_path, &how, sizeof how)));
  if (!master.valid()) {
    return sysFail(ErrorCode::kUnsupported, "openat2", root_path + "/" + ptmx_path, errno);
  }
  struct stat node {};
  struct statfs fs {};
  if (::fstat(master.get(), &node) != 0 || ::fstatfs(master.get(), &fs) != 0 ||
      fs.f_type != DEVPTS_SUPER_MAGIC || !S_ISCHR(node.st_mode) ||
      major(node.st_rdev) != kPtmxMajor || minor(node.st_rdev) != kPtmxMinor) {
    return fail(ErrorCode::kUnsupported,
                "local-namespace: the sandbox's /dev/pts/ptmx is not a devpts ptmx");
  }
  // The host's instance must never serve a sandbox, even if one were mounted there.
  struct stat host {};
  if (::stat("/dev/pts/ptmx", &host) == 0 && host.st_dev == node.st_dev) {
    return fail(ErrorCode::kInternal,
                "local-namespace: the sandbox's /dev/pts is the host's devpts instance");
  }
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) {
    return sysFail(ErrorCode::kInternal, "ioctl", "TIOCSPTLCK", errno);
  }
  // The peer by fd, not by path: no lookup in the tenant's tree.
  UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave.valid()) return sysFail(ErrorCode::kInternal, "ioctl", "TIOCGPTPEER", errno);
  GRID_TRY(resizePty(master.get(), size));
  return SandboxPty{std::move(master), std::move(slave)};
}

Result<void> resizePty(int master_fd, TerminalSize size) {
  winsize window{};
  window.ws_col = size.cols;
  window.ws_row = size.rows;
  if (::ioctl(master_fd, TIOCSWINSZ, &window) != 0) {
    return sysFail(ErrorCode::kInternal, "ioctl", "TIOCSWINSZ", errno);
  }
  return {};
}

}  // namespace grid::localns
