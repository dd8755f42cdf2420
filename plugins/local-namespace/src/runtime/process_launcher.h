// Starting a process inside a running sandbox: the server forks a child that joins the init's
// namespaces and root (setns, chroot on fds opened beforehand), places a few fds and execs
// grid-init `enter` with an empty environment. grid-init forks the process into the sandbox
// PID namespace, confines it and execs it; it stays outside the sandbox's PID namespace
// (invisible inside), waits for the process and exits with its status (128+N for signal N),
// so the server can waitpid() it for the exit code.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "grid/result.h"
#include "kernel/namespaces.h"
#include "kernel/rlimits.h"
#include "kernel/seccomp_filter.h"
#include "util/fd.h"

namespace grid::localns {

struct LaunchSpec {
  int init_binary_fd = -1;  // grid-init, opened by openInitBinary()
  NamespacePaths namespaces;
  std::vector<std::string> cgroup_procs_files;
  std::vector<std::string> argv;
  std::vector<std::string> env;              // "KEY=VALUE"
  std::vector<std::string> exec_candidates;  // argv[0] resolved against the sandbox PATH
  std::vector<RlimitSetting> rlimits;
  const SeccompProgram* seccomp = nullptr;
  bool attach_stdin = false;
  /// >= 0: the slave of a pty (kernel/pty.h), the process's stdin, stdout and stderr and its
  /// controlling terminal; the pipes are then not made.
  int tty_slave_fd = -1;
};

struct LaunchedProcess {
  pid_t helper_pid = -1;
  UniqueFd stdin_write;  // invalid without attach_stdin or with a tty
  UniqueFd stdout_read;  // invalid with a tty
  UniqueFd stderr_read;  // invalid with a tty
};

/// Candidate paths for execve: argv0 itself when it has a '/', else each dir of `path_env`.
std::vector<std::string> execCandidates(const std::string& argv0, const std::string& path_env);

/// Starts the process and returns once it has exec'd (bounded wait). A command that cannot be
/// exec'd still starts: like a shell it prints the reason on stderr and exits 127 (missing)
/// or 126.
Result<LaunchedProcess> launchProcess(const LaunchSpec& spec);

}  // namespace grid::localns
