#include "grid/seccomp/policy.h"

#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace grid::seccomp {
namespace {

// What ordinary programs (shells, coreutils, interpreters, compilers, git, apt, dpkg, servers
// on loopback) call. Docker's default allow list, minus io_uring, modify_ldt, adjtimex,
// clock_adjtime and name_to_handle_at (kept out below) and the 32-bit-only names. Calls newer
// than the local libseccomp are listed all the same: runc and newer libseccomps use them.
const std::vector<std::string> kAllowed = {
    "accept",
    "accept4",
    "access",
    "alarm",
    "arch_prctl",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "clock_getres",
    "clock_gettime",
    "clock_nanosleep",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchownat",
    "fcntl",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstatfs",
    "fsync",
    "ftruncate",
    "futex",
    "futex_requeue",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getgroups",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresuid",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getxattr",
    "getxattrat",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listmount",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedsend",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "nanosleep",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "process_vm_readv",
    "process_vm_writev",
    "pselect6",
    "ptrace",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recvfrom",
    "recvmmsg",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "removexattrat",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "sendfile",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsuid",
    "setgid",
    "setgroups",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setresgid",
    "setresuid",
    "setreuid",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setxattr",
    "setxattrat",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "splice",
    "stat",
    "statfs",
    "statmount",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_settime",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_settime",
    "times",
    "tkill",
    "truncate",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "uretprobe",
    "utime",
    "utimensat",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "write",
    "writev",
};

// Calls that change the host or the sandbox's shape, reach rarely used kernel code with a
// history of exploits, or read what another tenant could use: EPERM, as without the
// capability Docker would require for them.
const std::vector<std::string> kDenied = {
    // Mounts, old and new API, and changing the root.
    "mount",
    "umount2",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "open_tree_attr",
    "mount_setattr",
    "pivot_root",
    "chroot",
    // Namespaces (clone with namespace flags: below).
    "unshare",
    "setns",
    // The kernel and the machine.
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "syslog",
    "iopl",
    "ioperm",
    "quotactl",
    "quotactl_fd",
    "lookup_dcookie",
    "vhangup",
    "sethostname",
    "setdomainname",
    // Clocks (reading them is allowed above).
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    // Large attack surfaces and kernel objects shared beyond the sandbox.
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "fanotify_init",
    // File handles bypass path checks (the "shocker" escape).
    "open_by_handle_at",
    "name_to_handle_at",
    // Another process's files, memory and fds beyond what ptrace gives (CAP_SYS_PTRACE in
    // Docker's profile).
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
    // NUMA memory placement (CAP_SYS_NICE in Docker's profile).
    "mbind",
    "set_mempolicy",
    "set_mempolicy_home_node",
    "get_mempolicy",
    "migrate_pages",
    "move_pages",
    // Linux security module attributes.
    "lsm_get_self_attr",
    "lsm_set_self_attr",
    "lsm_list_modules",
};

// Every other x86_64 syscall: removed from Linux, never implemented, or obsolete (modify_ldt:
// 16-bit segments; uselib: a.out). Named, although the default already gives them ENOSYS,
// because Docker Engine before 23 drops defaultErrnoRet and would answer EPERM instead.
const std::vector<std::string> kLeftOut = {
    "_sysctl", "afs_syscall", "create_module", "epoll_ctl_old", "epoll_wait_old", "get_kernel_syms",
    "getpmsg", "modify_ldt",  "nfsservctl",    "putpmsg",       "query_module",   "security",
    "sysfs",   "tuxcall",     "uselib",        "ustat",         "vserver",
};

constexpr std::uint64_t kNamespaceFlags[] = {CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS,
                                             CLONE_NEWIPC, CLONE_NEWUSER,   CLONE_NEWPID,
                                             CLONE_NEWNET};

void addConditional(Policy& policy, const std::string& name, Action action,
                    const std::vector<ArgCondition>& conditions) {
  for (const auto& condition : conditions) policy.rules.push_back({{name}, action, condition});
}

ArgCondition equal(unsigned index, std::uint64_t value) {
  return {index, Compare::kEqual, value, 0};
}

// Socket families a sandbox may open; AF_NETLINK for `ip`, `ss` and getaddrinfo.
constexpr std::uint64_t kSocketFamilies[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};
// Families refused with EPERM, as Docker 25+ refuses AF_VSOCK and AF_ALG: host/VM channels,
// the kernel crypto API and raw link-layer sockets. Every other family: EAFNOSUPPORT, as on a
// kernel built without it.
constexpr std::uint64_t kDeniedSocketFamilies[] = {AF_ALG, AF_VSOCK, AF_PACKET};

void addSocketRules(Policy& policy) {
  std::vector<std::uint64_t> listed;
  for (auto family : kSocketFamilies) {
    policy.rules.push_back({{"socket"}, Action::allowed(), equal(0, family)});
    listed.push_back(family);
  }
  for (auto family : kDeniedSocketFamilies) {
    policy.rules.push_back({{"socket"}, Action::fails(EPERM), equal(0, family)});
    listed.push_back(family);
  }
  addConditional(policy, "socket", Action::fails(EAFNOSUPPORT), everyValueExcept(0, listed));
  // socketpair: only AF_UNIX has a use.
  policy.rules.push_back({{"socketpair"}, Action::allowed(), equal(0, AF_UNIX)});
  addConditional(policy, "socketpair", Action::fails(EAFNOSUPPORT), everyValueExcept(0, {AF_UNIX}));
}

// clone without namespace flags; with any of them EPERM. clone3 passes its flags in memory,
// which seccomp cannot read: ENOSYS, so glibc falls back to clone.
void addCloneRules(Policy& policy) {
  std::uint64_t all = 0;
  for (auto flag : kNamespaceFlags) all |= flag;
  policy.rules.push_back(
      {{"clone"}, Action::allowed(), ArgCondition{0, Compare::kMaskedEqual, 0, all}});
  for (auto flag : kNamespaceFlags) {
    policy.rules.push_back(
        {{"clone"}, Action::fails(EPERM), ArgCondition{0, Compare::kMaskedEqual, flag, flag}});
  }
  policy.rules.push_back({{"clone3"}, Action::fails(ENOSYS), std::nullopt});
}

// mknod(at) of FIFOs, sockets and regular files; device nodes (and anything else) EPERM.
// Docker leaves this to CAP_MKNOD and the device cgroup, which allow creating the node.
void addMknodRules(Policy& policy) {
  constexpr std::uint64_t kAllowedTypes[] = {0, S_IFREG, S_IFIFO, S_IFSOCK};
  for (const auto& [name, mode_arg] : {std::pair<std::string, unsigned>{"mknod", 1},
                                       std::pair<std::string, unsigned>{"mknodat", 2}}) {
    // The file type is the 4 bits under S_IFMT (0170000): 16 values, each allowed or refused.
    constexpr std::uint64_t kTypeStep = 0010000;
    for (std::uint64_t type = 0; type <= S_IFMT; type += kTypeStep) {
      const bool allowed = std::find(std::begin(kAllowedTypes), std::end(kAllowedTypes), type) !=
                           std::end(kAllowedTypes);
      policy.rules.push_back({{name},
                              allowed ? Action::allowed() : Action::fails(EPERM),
                              ArgCondition{mode_arg, Compare::kMaskedEqual, type, S_IFMT}});
    }
  }
}

// personality: Linux, 32-bit Linux, the 2.6 uname emulation, and queries; not
// ADDR_NO_RANDOMIZE or READ_IMPLIES_EXEC, which weaken the process's own hardening.
void addPersonalityRules(Policy& policy) {
  const std::vector<std::uint64_t> allowed = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};
  for (auto value : allowed) {
    policy.rules.push_back({{"personality"}, Action::allowed(), equal(0, value)});
  }
  addConditional(policy, "personality", Action::fails(EPERM), everyValueExcept(0, allowed));
}

Policy makeSandboxPolicy() {
  Policy policy;
  policy.default_action = Action::fails(ENOSYS);
  policy.rules.push_back({kAllowed, Action::allowed(), std::nullopt});
  policy.rules.push_back({kDenied, Action::fails(EPERM), std::nullopt});
  policy.rules.push_back({kLeftOut, Action::fails(ENOSYS), std::nullopt});
  addSocketRules(policy);
  addCloneRules(policy);
  addMknodRules(policy);
  addPersonalityRules(policy);
  return policy;
}

}  // namespace

bool ArgCondition::matches(std::uint64_t arg) const {
  switch (op) {
    case Compare::kEqual:
      return arg == value;
    case Compare::kMaskedEqual:
      return (arg & mask) == value;
    case Compare::kGreater:
      return arg > value;
  }
  return false;
}

const Policy& sandboxPolicy() {
  static const Policy policy = makeSandboxPolicy();
  return policy;
}

Action evaluate(const Policy& policy, std::string_view name,
                const std::vector<std::uint64_t>& args) {
  for (const auto& rule : policy.rules) {
    if (std::find(rule.names.begin(), rule.names.end(), name) == rule.names.end()) continue;
    if (!rule.condition) return rule.action;
    const std::uint64_t arg = rule.condition->index < args.size() ? args[rule.condition->index] : 0;
    if (rule.condition->matches(arg)) return rule.action;
  }
  return policy.default_action;
}

std::vector<ArgCondition> everyValueExcept(unsigned index, std::vector<std::uint64_t> excluded) {
  std::sort(excluded.begin(), excluded.end());
  excluded.erase(std::unique(excluded.begin(), excluded.end()), excluded.end());
  std::vector<ArgCondition> out;
  if (excluded.empty()) return {ArgCondition{index, Compare::kMaskedEqual, 0, 0}};
  std::uint64_t low = 0;
  for (std::uint64_t value : excluded) {
    // Cover [low, value) with the largest aligned power-of-two blocks that fit.
    while (low < value) {
      std::uint64_t size = low == 0 ? (std::uint64_t{1} << 63) : (low & -low);
      while (size > value - low) size >>= 1;
      if (size == 1) {
        out.push_back(ArgCondition{index, Compare::kEqual, low, 0});
      } else {
        out.push_back(ArgCondition{index, Compare::kMaskedEqual, low, ~(size - 1)});
      }
      low += size;
    }
    low = value + 1;
  }
  if (excluded.back() != UINT64_MAX) {
    out.push_back(ArgCondition{index, Compare::kGreater, excluded.back(), 0});
  }
  return out;
}

Result<SeccompMode> parseSeccompMode(const std::string& section, const std::string& value) {
  if (value == "grid") return SeccompMode::kGrid;
  if (value == "engine-default") return SeccompMode::kEngineDefault;
  if (value == "unconfined") return SeccompMode::kUnconfined;
  return fail(ErrorCode::kInvalidArgument,
              section + " seccomp must be grid, engine-default or unconfined, got '" + value + "'");
}

const char* seccompModeName(SeccompMode mode) {
  switch (mode) {
    case SeccompMode::kGrid:
      return "grid";
    case SeccompMode::kEngineDefault:
      return "engine-default";
    case SeccompMode::kUnconfined:
      return "unconfined";
  }
  return "grid";
}

void logSeccompMode(const std::string& backend, SeccompMode mode) {
  if (mode == SeccompMode::kUnconfined) {
    spdlog::warn(
        "{0}: [backend.{0}] seccomp = {1}: sandboxes run WITHOUT any seccomp filter; every "
        "syscall (io_uring, bpf, keyctl, mount attempts...) reaches the kernel",
        backend, seccompModeName(mode));
  } else if (mode == SeccompMode::kEngineDefault) {
    spdlog::info("{}: sandboxes use the engine's default seccomp profile", backend);
  }
}

}  // namespace grid::seccomp
