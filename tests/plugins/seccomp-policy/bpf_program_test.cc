// The policy compiled by libseccomp and installed in a forked child (no root needed with
// no_new_privs): the kernel itself answers each probe.
#include "grid/seccomp/bpf_program.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace grid::seccomp {
namespace {

struct Probe {
  const char* what;
  std::function<long()> call;  // the raw syscall's result (-1 with errno set on failure)
};

constexpr long kUnreported = -1000;

// Runs every probe in a child under the filter; returns 0 for success or the errno of each.
std::vector<long> runFiltered(const std::vector<sock_filter>& program,
                              const std::vector<Probe>& probes) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return {};
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(pipe_fds[0]);
    sock_fprog prog{static_cast<unsigned short>(program.size()),
                    const_cast<sock_filter*>(program.data())};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
      ::_exit(2);
    }
    for (const auto& probe : probes) {
      errno = 0;
      const long rc = probe.call();
      const long result = rc < 0 ? errno : 0;
      if (::write(pipe_fds[1], &result, sizeof result) != sizeof result) ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::vector<long> results(probes.size(), kUnreported);
  for (auto& result : results) {
    if (::read(pipe_fds[0], &result, sizeof result) != sizeof result) break;
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  return results;
}

long closing(long fd) {
  if (fd >= 0) ::close(static_cast<int>(fd));
  return fd;
}

class BpfProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto program = buildBpfProgram(sandboxPolicy());
    ASSERT_TRUE(program.ok()) << program.error().message;
    program_ = program.value();
    char tmpl[] = "/tmp/grid-seccomp-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void expectResults(const std::vector<std::pair<Probe, long>>& cases) {
    std::vector<Probe> probes;
    for (const auto& [probe, expected] : cases) probes.push_back(probe);
    auto results = runFiltered(program_, probes);
    ASSERT_EQ(results.size(), cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i) {
      EXPECT_EQ(results[i], cases[i].second) << cases[i].first.what << ": got " << results[i]
                                             << " (" << std::strerror(results[i]) << ")";
    }
  }

  std::vector<sock_filter> program_;
  std::string dir_;
};

TEST_F(BpfProgramTest, OrdinaryCallsWork) {
  const std::string fifo = dir_ + "/fifo";
  const std::string file = dir_ + "/file";
  expectResults({
      {{"getpid", [] { return ::syscall(SYS_getpid); }}, 0},
      {{"uname",
        [] {
          struct utsname name;
          return ::syscall(SYS_uname, &name);
        }},
       0},
      {{"socket(AF_UNIX)", [] { return closing(::syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0)); }},
       0},
      {{"socket(AF_INET)", [] { return closing(::syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0)); }},
       0},
      {{"socket(AF_NETLINK)",
        [] { return closing(::syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0)); }},
       0},
      {{"mknodat(S_IFIFO)",
        [&] { return ::syscall(SYS_mknodat, AT_FDCWD, fifo.c_str(), S_IFIFO | 0600, 0); }},
       0},
      {{"mknodat(S_IFREG)",
        [&] { return ::syscall(SYS_mknodat, AT_FDCWD, file.c_str(), S_IFREG | 0600, 0); }},
       0},
      {{"personality(query)", [] { return ::syscall(SYS_personality, 0xffffffffUL); }}, 0},
      {{"fork",
        [] {
          const pid_t pid = ::fork();
          if (pid == 0) ::_exit(0);
          int status = 0;
          return pid > 0 && ::waitpid(pid, &status, 0) == pid ? 0L : -1L;
        }},
       0},
  });
}

TEST_F(BpfProgramTest, DangerousCallsFailWithEperm) {
  const std::string device = dir_ + "/sda";
  expectResults({
      {{"io_uring_setup",
        [] {
          io_uring_params params{};
          return ::syscall(SYS_io_uring_setup, 1, &params);
        }},
       EPERM},
      {{"socket(AF_VSOCK)",
        [] { return closing(::syscall(SYS_socket, AF_VSOCK, SOCK_STREAM, 0)); }},
       EPERM},
      {{"socket(AF_ALG)", [] { return closing(::syscall(SYS_socket, AF_ALG, SOCK_SEQPACKET, 0)); }},
       EPERM},
      {{"mount", [] { return ::syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, nullptr); }}, EPERM},
      {{"unshare(CLONE_NEWUSER)", [] { return ::syscall(SYS_unshare, CLONE_NEWUSER); }}, EPERM},
      {{"clone(CLONE_NEWUSER)",
        [] {
          const long pid = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
          if (pid == 0) ::_exit(0);
          return pid;
        }},
       EPERM},
      {{"keyctl", [] { return ::syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0); }},
       EPERM},
      {{"bpf", [] { return ::syscall(SYS_bpf, 0, nullptr, 0); }}, EPERM},
      {{"mknodat(S_IFBLK)",
        [&] { return ::syscall(SYS_mknodat, AT_FDCWD, device.c_str(), S_IFBLK | 0600, 0x800); }},
       EPERM},
      {{"personality(ADDR_NO_RANDOMIZE)",
        [] { return ::syscall(SYS_personality, ADDR_NO_RANDOMIZE); }},
       EPERM},
  });
}

TEST_F(BpfProgramTest, UnknownCallsFailWithEnosys) {
  expectResults({
      {{"syscall 1000", [] { return ::syscall(1000); }}, ENOSYS},
      {{"clone3", [] { return ::syscall(SYS_clone3, nullptr, 0); }}, ENOSYS},
      {{"modify_ldt", [] { return ::syscall(SYS_modify_ldt, 0, nullptr, 0); }}, ENOSYS},
      {{"socket(AF_VSOCK | 1 << 32)",
        [] { return closing(::syscall(SYS_socket, (1UL << 32) | AF_VSOCK, SOCK_STREAM, 0)); }},
       EAFNOSUPPORT},
      {{"socket(AF_BLUETOOTH)", [] { return closing(::syscall(SYS_socket, 31, SOCK_STREAM, 0)); }},
       EAFNOSUPPORT},
  });
}

// A syscall through the x32 ABI (number | 0x40000000) matches no native rule: the process is
// killed rather than the call reaching a table the policy never looked at.
TEST_F(BpfProgramTest, ForeignAbiKillsTheProcess) {
  const pid_t child = ::fork();
  if (child == 0) {
    sock_fprog prog{static_cast<unsigned short>(program_.size()), program_.data()};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
      ::_exit(2);
    }
    ::syscall(0x40000000 | SYS_getpid);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

// Engines that drop defaultErrnoRet (Docker 20.10) answer EPERM for a syscall no rule names:
// naming every one this libseccomp knows keeps their answer the policy's.
TEST(SeccompPolicyCoverageTest, EverySyscallLibseccompKnowsIsNamed) {
  std::set<std::string> named;
  for (const auto& rule : sandboxPolicy().rules) named.insert(rule.names.begin(), rule.names.end());
  int known = 0;
  for (int nr = 0; nr < 1024; ++nr) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (name == nullptr) continue;
    ++known;
    EXPECT_EQ(named.count(name), 1u) << name << " (" << nr << ") is on no list";
    std::free(name);
  }
  EXPECT_GT(known, 300);
}

}  // namespace
}  // namespace grid::seccomp
