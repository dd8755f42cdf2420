#include "init/init_exec.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "util/syscall_error.h"

namespace grid::localns {
namespace {

namespace fs = std::filesystem;

constexpr const char* kInitBinaryName = "grid-init";

bool isRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

Result<std::string> findInitBinary(const std::string& configured) {
  if (!configured.empty()) return configured;
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&findInitBinary), &info) == 0 || info.dli_fname == nullptr) {
    return fail(ErrorCode::kUnavailable,
                "local-namespace: cannot locate my own shared object (dladdr); set init_binary "
                "in [backend.local-namespace]");
  }
  std::error_code ec;
  fs::path self = fs::canonical(info.dli_fname, ec);
  if (ec) self = info.dli_fname;
  const fs::path dir = self.parent_path();
  for (const fs::path& candidate :
       {dir / kInitBinaryName, dir / ".." / "lib" / "grid" / "plugins" / kInitBinaryName}) {
    if (isRegularFile(candidate.string())) return candidate.lexically_normal().string();
  }
  return fail(ErrorCode::kUnavailable,
              "local-namespace: grid-init not found beside " + self.string() + " (nor in " +
                  (dir / ".." / "lib" / "grid" / "plugins").lexically_normal().string() +
                  "); install it with the plugins or set init_binary in [backend.local-namespace]");
}

Result<UniqueFd> openInitBinary(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!fd.valid()) return sysFail(ErrorCode::kUnavailable, "open", path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sysFail(ErrorCode::kUnavailable, "fstat", path, errno);
  if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
    return fail(ErrorCode::kUnavailable,
                "local-namespace: init binary " + path + " is not an executable file");
  }
  if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return fail(ErrorCode::kUnavailable,
                "local-namespace: init binary " + path +
                    " must be owned by root and writable by no one else (install mode 0711)");
  }
  return fd;
}

Result<UniqueFd> makeInitMessageFd(const InitMessage& message) {
  auto bytes = encodeInitMessage(message);
  if (!bytes) {
    return fail(ErrorCode::kInvalidArgument,
                "local-namespace: the process's arguments, environment or mounts exceed the "
                "init message caps (" +
                    std::to_string(kMaxInitMessageBytes) + " bytes, " +
                    std::to_string(kMaxInitListItems) + " items per list)");
  }
  UniqueFd fd(::memfd_create("grid-init-message", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return sysFail(ErrorCode::kInternal, "memfd_create", "grid-init-message", errno);
  size_t done = 0;
  while (done < bytes->size()) {
    ssize_t n = ::write(fd.get(), bytes->data() + done, bytes->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return sysFail(ErrorCode::kInternal, "write", "grid-init-message memfd", errno);
    done += static_cast<size_t>(n);
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) !=
      0) {
    return sysFail(ErrorCode::kInternal, "fcntl", "F_ADD_SEALS", errno);
  }
  return fd;
}

void execGridInit(int exec_fd, const int* fds, int count, const char* role) {
  // Copy every source above the target range first, so no dup2 below overwrites a source
  // that is still to be placed.
  constexpr int kMaxFds = kInitFirstPassedFd + static_cast<int>(kMaxInitPassedFds);
  int report = count > kInitReportFd ? fds[kInitReportFd] : -1;
  if (count > kMaxFds) childFail(report, "execGridInit", "too many fds", EINVAL);
  int high[kMaxFds];
  const int base = count + 1;
  for (int i = 0; i < count; ++i) {
    high[i] = ::fcntl(fds[i], F_DUPFD_CLOEXEC, base);
    if (high[i] < 0) childFail(report, "fcntl", "F_DUPFD_CLOEXEC", errno);
  }
  int exec_high = ::fcntl(exec_fd, F_DUPFD_CLOEXEC, base);
  if (exec_high < 0) childFail(report, "fcntl", "F_DUPFD_CLOEXEC", errno);
  for (int i = 0; i < count; ++i) {
    if (::dup2(high[i], i) < 0) childFail(report, "dup2", "grid-init fds", errno);
  }
  report = count > kInitReportFd ? kInitReportFd : -1;
  // The binary's fd stays close-on-exec: grid-init never holds it.
  if (::dup3(exec_high, count, O_CLOEXEC) < 0) childFail(report, "dup3", "grid-init", errno);
  ::close_range(static_cast<unsigned>(count + 1), ~0U, 0);
  char name[] = "grid-init";
  char* argv[] = {name, const_cast<char*>(role), nullptr};
  char* envp[] = {nullptr};
  ::syscall(SYS_execveat, count, "", argv, envp, AT_EMPTY_PATH);
  childFail(report, "execveat", "grid-init", errno);
}

ChildReport readChildReport(int report_fd, std::chrono::steady_clock::time_point deadline) {
  ChildReport report;
  char buf[512];
  while (report.text.size() < kMaxInitReportBytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      report.timed_out = true;
      break;
    }
    pollfd pfd{report_fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    if (ready == 0) continue;
    ssize_t n =
        ::read(report_fd, buf, std::min(sizeof(buf), kMaxInitReportBytes - report.text.size()));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    report.text.append(buf, static_cast<size_t>(n));
  }
  return report;
}

}  // namespace grid::localns
