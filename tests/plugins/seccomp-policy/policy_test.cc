// The sandbox policy as data: what ordinary programs need is allowed, the dangerous calls are
// EPERM, everything else ENOSYS, and the rules never contradict each other.
#include "grid/seccomp/policy.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <set>

namespace grid::seccomp {
namespace {

const Action kAllow = Action::allowed();
const Action kEperm = Action::fails(EPERM);
const Action kEnosys = Action::fails(ENOSYS);

// Every syscall `strace -f -c` saw (Debian 12, x86_64) while running bash with coreutils
// pipelines, cp/mv/ln/chmod/stat, date, id, sleep, md5sum/sha256sum, tar, gzip, find, perl,
// python3 (json, subprocess, socket, threading, tempfile), git init/add/commit/log, apt-get,
// apt-cache, dpkg -l, mkfifo, ps and getent; plus what glibc's startup, threads and
// allocator use on other paths. clone3 (glibc falls back to clone on ENOSYS) and
// get/set_mempolicy (libnuma in ps: EPERM, as under Docker's profile) are checked apart.
constexpr const char* kObservedUnconditional[] = {
    "access",
    "arch_prctl",
    "brk",
    "chdir",
    "chmod",
    "clock_nanosleep",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup2",
    "epoll_create1",
    "execve",
    "faccessat2",
    "fadvise64",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fcntl",
    "fstatfs",
    "futex",
    "getcwd",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getgroups",
    "getpgrp",
    "getpid",
    "getppid",
    "getrandom",
    "gettid",
    "getuid",
    "getxattr",
    "ioctl",
    "lgetxattr",
    "link",
    "lseek",
    "madvise",
    "mkdir",
    "mmap",
    "mprotect",
    "mremap",
    "munmap",
    "newfstatat",
    "openat",
    "pipe2",
    "poll",
    "prctl",
    "pread64",
    "prlimit64",
    "read",
    "readlink",
    "recvfrom",
    "rename",
    "renameat2",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_getaffinity",
    "sendto",
    "set_robust_list",
    "set_tid_address",
    "setsockopt",
    "statfs",
    "statx",
    "symlink",
    "symlinkat",
    "sysinfo",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utimensat",
    "vfork",
    "wait4",
    "write",
    // Other paths of the same programs (sockets, threads, event loops, timers, terminals).
    "accept4",
    "bind",
    "listen",
    "getsockname",
    "getpeername",
    "recvmsg",
    "sendmsg",
    "shutdown",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "eventfd2",
    "pselect6",
    "ppoll",
    "select",
    "nanosleep",
    "clock_gettime",
    "gettimeofday",
    "getrusage",
    "setpgid",
    "setsid",
    "getsid",
    "kill",
    "tgkill",
    "exit",
    "exit_group",
    "dup",
    "dup3",
    "fsync",
    "fdatasync",
    "ftruncate",
    "fallocate",
    "flock",
    "pwrite64",
    "writev",
    "readv",
    "sendfile",
    "splice",
    "getpriority",
    "setpriority",
    "setuid",
    "setgid",
    "setresuid",
    "setresgid",
    "setgroups",
    "capget",
    "capset",
    "timer_create",
    "timer_settime",
    "timer_delete",
    "timerfd_create",
    "timerfd_settime",
    "inotify_init1",
    "inotify_add_watch",
    "waitid",
    "pidfd_open",
    "memfd_create",
    "fork",
    "sigaltstack",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "sched_yield",
    "membarrier",
    "mlock",
    "msync",
    "getitimer",
    "setitimer",
    "alarm",
    "pause",
    "times",
    "ptrace",
    "seccomp",
    "landlock_create_ruleset",
    "openat2",
    "execveat",
    "fchownat",
    "linkat",
    "mkdirat",
    "renameat",
    "readlinkat",
    "faccessat",
    "fstat",
    "lstat",
    "stat",
    "open",
    "pipe",
    "getdents",
    "lchown",
    "chown",
    "truncate",
    "utimes",
    "sync",
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "semget",
    "semop",
    "semctl",
    "msgget",
};

constexpr const char* kDangerous[] = {
    "mount",
    "umount2",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "reboot",
    "swapon",
    "swapoff",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "open_by_handle_at",
    "name_to_handle_at",
    "syslog",
    "acct",
    "iopl",
    "ioperm",
    "quotactl",
    "sethostname",
    "setdomainname",
    "get_mempolicy",
    "set_mempolicy",
    "kcmp",
    "pidfd_getfd",
    "fanotify_init",
};

TEST(SeccompPolicyTest, WhatOrdinaryProgramsCallIsAllowed) {
  for (const char* name : kObservedUnconditional) {
    EXPECT_EQ(evaluate(sandboxPolicy(), name), kAllow) << name;
  }
  // Observed with these arguments.
  EXPECT_EQ(evaluate(sandboxPolicy(), "clone",
                     {CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                      CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID}),
            kAllow);
  EXPECT_EQ(
      evaluate(sandboxPolicy(), "clone", {CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD}),
      kAllow);
  EXPECT_EQ(evaluate(sandboxPolicy(), "mknodat", {0, 0, S_IFIFO | 0666}), kAllow);
  EXPECT_EQ(evaluate(sandboxPolicy(), "mknod", {0, S_IFSOCK | 0600}), kAllow);
  EXPECT_EQ(evaluate(sandboxPolicy(), "mknod", {0, S_IFREG | 0600}), kAllow);
  EXPECT_EQ(evaluate(sandboxPolicy(), "mknod", {0, 0600}), kAllow);
  for (int family : {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK}) {
    EXPECT_EQ(evaluate(sandboxPolicy(), "socket", {static_cast<std::uint64_t>(family)}), kAllow)
        << family;
  }
  EXPECT_EQ(evaluate(sandboxPolicy(), "socketpair", {AF_UNIX}), kAllow);
  EXPECT_EQ(evaluate(sandboxPolicy(), "personality", {0xffffffff}), kAllow);  // a query
  EXPECT_EQ(evaluate(sandboxPolicy(), "personality", {PER_LINUX}), kAllow);
  EXPECT_EQ(evaluate(sandboxPolicy(), "personality", {PER_LINUX32}), kAllow);
}

TEST(SeccompPolicyTest, DangerousCallsAreEperm) {
  for (const char* name : kDangerous) EXPECT_EQ(evaluate(sandboxPolicy(), name), kEperm) << name;
  for (std::uint64_t flag : {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS,
                             CLONE_NEWIPC, CLONE_NEWCGROUP}) {
    EXPECT_EQ(evaluate(sandboxPolicy(), "clone", {flag | SIGCHLD}), kEperm) << flag;
  }
  EXPECT_EQ(evaluate(sandboxPolicy(), "clone", {CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID}),
            kEperm);
  EXPECT_EQ(evaluate(sandboxPolicy(), "mknod", {0, S_IFBLK | 0600}), kEperm);
  EXPECT_EQ(evaluate(sandboxPolicy(), "mknod", {0, S_IFCHR | 0600}), kEperm);
  EXPECT_EQ(evaluate(sandboxPolicy(), "mknodat", {0, 0, S_IFBLK | 0600}), kEperm);
  EXPECT_EQ(evaluate(sandboxPolicy(), "mknodat", {0, 0, S_IFCHR | 0600}), kEperm);
  for (int family : {AF_VSOCK, AF_ALG, AF_PACKET}) {
    EXPECT_EQ(evaluate(sandboxPolicy(), "socket", {static_cast<std::uint64_t>(family)}), kEperm)
        << family;
  }
  EXPECT_EQ(evaluate(sandboxPolicy(), "personality", {ADDR_NO_RANDOMIZE}), kEperm);
  EXPECT_EQ(evaluate(sandboxPolicy(), "personality", {READ_IMPLIES_EXEC}), kEperm);
}

TEST(SeccompPolicyTest, UnlistedCallsAndArgumentsFailLikeAMissingKernelFeature) {
  EXPECT_EQ(evaluate(sandboxPolicy(), "clone3"), kEnosys);  // glibc then uses clone
  EXPECT_EQ(evaluate(sandboxPolicy(), "modify_ldt"), kEnosys);
  EXPECT_EQ(evaluate(sandboxPolicy(), "a_syscall_of_a_future_kernel"), kEnosys);
  EXPECT_EQ(sandboxPolicy().default_action, kEnosys);
  // Families the kernel could have been built without.
  EXPECT_EQ(evaluate(sandboxPolicy(), "socket", {31 /* AF_BLUETOOTH */}),
            Action::fails(EAFNOSUPPORT));
  EXPECT_EQ(evaluate(sandboxPolicy(), "socketpair", {AF_INET}), Action::fails(EAFNOSUPPORT));
  // The kernel reads socket()'s family as an int: upper bits must not smuggle AF_VSOCK past
  // the filter, nor AF_UNIX be refused less strictly than by value.
  EXPECT_FALSE(evaluate(sandboxPolicy(), "socket", {(std::uint64_t{1} << 32) | AF_VSOCK}).allow);
  EXPECT_FALSE(evaluate(sandboxPolicy(), "socket", {(std::uint64_t{1} << 32) | AF_UNIX}).allow);
  EXPECT_FALSE(
      evaluate(sandboxPolicy(), "personality", {(std::uint64_t{1} << 32) | 0x40000}).allow);
}

// libseccomp (and runc through it) keeps a syscall's unconditional rule and drops its
// conditional ones, and cannot order overlapping conditions: the table must avoid both.
TEST(SeccompPolicyTest, RulesNeverContradictEachOther) {
  std::map<std::string, int> unconditional;
  std::map<std::string, std::vector<const Rule*>> conditional;
  for (const auto& rule : sandboxPolicy().rules) {
    for (const auto& name : rule.names) {
      if (rule.condition) {
        conditional[name].push_back(&rule);
      } else {
        ++unconditional[name];
      }
    }
  }
  for (const auto& [name, count] : unconditional) {
    EXPECT_EQ(count, 1) << name << " listed twice";
    EXPECT_EQ(conditional.count(name), 0u) << name << " has both kinds of rules";
  }
  std::vector<std::uint64_t> samples = {UINT64_MAX, std::uint64_t{1} << 32, 0xffffffff};
  for (std::uint64_t v = 0; v < 70; ++v) samples.push_back(v);
  for (std::uint64_t v = 0; v <= S_IFMT; v += 010000) samples.push_back(v | 0644);
  for (std::uint64_t bit = 0; bit < 64; ++bit) samples.push_back(std::uint64_t{1} << bit);
  for (const auto& [name, rules] : conditional) {
    for (std::uint64_t sample : samples) {
      std::set<std::pair<bool, int>> actions;
      for (const Rule* rule : rules) {
        if (rule->condition->matches(sample)) {
          actions.insert({rule->action.allow, rule->action.errno_value});
        }
      }
      EXPECT_LE(actions.size(), 1u) << name << " with " << sample;
    }
  }
}

TEST(SeccompPolicyTest, EveryValueExceptCoversTheRestExactlyOnce) {
  const std::vector<std::uint64_t> excluded = {1, 2, 10, 16, 38, 40, 0xffffffff};
  const auto conditions = everyValueExcept(3, excluded);
  std::vector<std::uint64_t> samples = {UINT64_MAX, UINT64_MAX - 1, std::uint64_t{1} << 32,
                                        (std::uint64_t{1} << 32) | 40, 0x100000000 - 2};
  for (std::uint64_t v = 0; v < 300; ++v) samples.push_back(v);
  for (std::uint64_t sample : samples) {
    int matches = 0;
    for (const auto& condition : conditions) {
      EXPECT_EQ(condition.index, 3u);
      matches += condition.matches(sample) ? 1 : 0;
    }
    const bool is_excluded = std::find(excluded.begin(), excluded.end(), sample) != excluded.end();
    EXPECT_EQ(matches, is_excluded ? 0 : 1) << sample;
  }
  // Aligned blocks keep it short: one rule per gap edge, not one per value.
  EXPECT_LT(conditions.size(), 80u);
  // Zero excluded: value 0 is matched by no condition.
  for (const auto& condition : everyValueExcept(0, {0})) EXPECT_FALSE(condition.matches(0));
}

TEST(SeccompPolicyTest, ModeSettingParses) {
  EXPECT_EQ(parseSeccompMode("[backend.docker]", "grid").value(), SeccompMode::kGrid);
  EXPECT_EQ(parseSeccompMode("[backend.docker]", "engine-default").value(),
            SeccompMode::kEngineDefault);
  EXPECT_EQ(parseSeccompMode("[backend.docker]", "unconfined").value(), SeccompMode::kUnconfined);
  auto bad = parseSeccompMode("[backend.podman]", "off");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("[backend.podman] seccomp"), std::string::npos);
  EXPECT_NE(bad.error().message.find("'off'"), std::string::npos);
  EXPECT_STREQ(seccompModeName(SeccompMode::kEngineDefault), "engine-default");
}

}  // namespace
}  // namespace grid::seccomp
