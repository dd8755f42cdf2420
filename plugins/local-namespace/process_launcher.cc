#include "process_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "caps.h"
#include "syscall_error.h"

namespace grid::localns {
namespace {

constexpr int kReportFd = 3;

// The final process, inside the sandbox PID namespace. Runs after fork() in a
// single-threaded helper; still only syscalls on prepared data.
[[noreturn]] void runProcess(const LaunchSpec& spec, char* const* argv, char* const* envp,
                             const int* cgroup_fds, size_t cgroup_count, int stdin_fd,
                             int stdout_fd, int stderr_fd, int report_fd) {
  for (size_t i = 0; i < cgroup_count; ++i) {
    if (::write(cgroup_fds[i], "0", 1) != 1) childFail(report_fd, "write", "cgroup.procs", errno);
  }
  if (::dup2(stdin_fd, 0) < 0 || ::dup2(stdout_fd, 1) < 0 || ::dup2(stderr_fd, 2) < 0) {
    childFail(report_fd, "dup2", "stdio", errno);
  }
  if (report_fd != kReportFd) {
    if (::dup3(report_fd, kReportFd, O_CLOEXEC) < 0) {
      childFail(report_fd, "dup3", "report", errno);
    }
    report_fd = kReportFd;
  }
  ::close_range(kReportFd + 1, ~0U, 0);

  // Ignored signals survive execve; the server ignores SIGPIPE, a shell pipeline must not.
  struct sigaction action = {};
  action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &action, nullptr);
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::setsid();
  // Sandbox processes are the OOM killer's first choice, before the sandbox's init (which,
  // forked from the server, can look large) and anything on the host. Raising needs no
  // privilege; best effort.
  if (int oom_fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC); oom_fd >= 0) {
    (void)!::write(oom_fd, "500", 3);
    ::close(oom_fd);
  }

  applyRlimits(spec.rlimits, report_fd);
  dropCapabilities(report_fd);
  spec.seccomp->install(report_fd);

  int err = ENOENT;
  for (const auto& candidate : spec.exec_candidates) {
    ::execve(candidate.c_str(), argv, envp);
    // Keep the most telling error: EACCES beats ENOENT of the other PATH dirs.
    if (errno != ENOENT || err == ENOENT) err = errno;
  }
  // Like a shell: the reason on stderr, 127 for a missing command, 126 if not executable.
  childFailWithCode(2, "local-namespace: execve", argv[0], err, err == ENOENT ? 127 : 126);
}

// The helper: joins the namespaces, forks the process, then only waits for it.
[[noreturn]] void runHelper(const LaunchSpec& spec, char* const* argv, char* const* envp,
                            const int* cgroup_fds, size_t cgroup_count, int stdin_fd, int stdout_fd,
                            int stderr_fd, int report_fd) {
  joinNamespaces(spec.namespaces, report_fd);
  pid_t child = ::fork();
  if (child < 0) childFail(report_fd, "fork", "in sandbox", errno);
  if (child == 0) {
    runProcess(spec, argv, envp, cgroup_fds, cgroup_count, stdin_fd, stdout_fd, stderr_fd,
               report_fd);
  }
  // Holding copies of the server's fds (other processes' pipes) would delay their EOF.
  ::close_range(0, ~0U, 0);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) ::_exit(127);
  }
  ::_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
}

std::vector<char*> cStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::vector<std::string> execCandidates(const std::string& argv0, const std::string& path_env) {
  if (argv0.find('/') != std::string::npos) return {argv0};
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= path_env.size()) {
    size_t colon = path_env.find(':', pos);
    if (colon == std::string::npos) colon = path_env.size();
    // Appended piecewise: GCC 12 warns falsely (-Wrestrict) about dir + "/" + argv0.
    std::string candidate = colon > pos ? path_env.substr(pos, colon - pos) : std::string(".");
    candidate += '/';
    candidate += argv0;
    out.push_back(std::move(candidate));
    pos = colon + 1;
  }
  return out;
}

Result<LaunchedProcess> launchProcess(const LaunchSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return fail(ErrorCode::kInvalidArgument, "local-namespace: empty argv");
  }
  std::vector<UniqueFd> cgroup_fds;
  std::vector<int> raw_cgroup_fds;
  for (const auto& file : spec.cgroup_procs_files) {
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return sysFail(ErrorCode::kInternal, "open", file, errno);
    raw_cgroup_fds.push_back(fd.get());
    cgroup_fds.push_back(std::move(fd));
  }
  Pipe in, out, err, report;
  if (!makePipe(&out) || !makePipe(&err) || !makePipe(&report)) {
    return sysFail(ErrorCode::kInternal, "pipe2", "O_CLOEXEC", errno);
  }
  UniqueFd null_fd;
  if (spec.attach_stdin) {
    if (!makePipe(&in)) return sysFail(ErrorCode::kInternal, "pipe2", "O_CLOEXEC", errno);
  } else {
    null_fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null_fd.valid()) return sysFail(ErrorCode::kInternal, "open", "/dev/null", errno);
  }
  int stdin_fd = spec.attach_stdin ? in.read.get() : null_fd.get();
  auto argv = cStrings(spec.argv);
  auto envp = cStrings(spec.env);

  pid_t helper = ::fork();
  if (helper < 0) return sysFail(ErrorCode::kInternal, "fork", "process helper", errno);
  if (helper == 0) {
    runHelper(spec, argv.data(), envp.data(), raw_cgroup_fds.data(), raw_cgroup_fds.size(),
              stdin_fd, out.write.get(), err.write.get(), report.write.get());
  }
  report.write.reset();
  in.read.reset();
  out.write.reset();
  err.write.reset();

  const std::string message = readChildReport(report.read.get());
  if (!message.empty()) {
    while (::waitpid(helper, nullptr, 0) < 0 && errno == EINTR) {
    }
    return fail(ErrorCode::kInternal,
                "local-namespace: starting '" + spec.argv[0] + "': " + message);
  }
  LaunchedProcess launched;
  launched.helper_pid = helper;
  launched.stdin_write = std::move(in.write);
  launched.stdout_read = std::move(out.read);
  launched.stderr_read = std::move(err.read);
  return launched;
}

}  // namespace grid::localns
