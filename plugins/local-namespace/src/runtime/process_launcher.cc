#include "runtime/process_launcher.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "init/init_exec.h"
#include "util/syscall_error.h"

namespace grid::localns {
namespace {

// Setting up a process takes milliseconds; this only bounds a wedged one.
constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr size_t kMaxCgroupFiles = 16;

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
  if (spec.cgroup_procs_files.size() > kMaxCgroupFiles) {
    return fail(ErrorCode::kInternal, "local-namespace: too many cgroup hierarchies");
  }
  InitMessage message;
  message.role = InitMessage::Role::kEnter;
  message.cgroup_fd_count = static_cast<uint32_t>(spec.cgroup_procs_files.size());
  message.argv = spec.argv;
  message.env = spec.env;
  message.exec_candidates = spec.exec_candidates;
  message.rlimits = spec.rlimits;
  message.seccomp = spec.seccomp->filter();
  GRID_ASSIGN_OR_RETURN(UniqueFd message_fd, makeInitMessageFd(message));

  // Opened here, with the server's credentials: grid-init writes "0" into them from inside
  // the sandbox (cgroup checks the opener's credentials).
  std::vector<UniqueFd> cgroup_fds;
  for (const auto& file : spec.cgroup_procs_files) {
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return sysFail(ErrorCode::kInternal, "open", file, errno);
    cgroup_fds.push_back(std::move(fd));
  }
  GRID_ASSIGN_OR_RETURN(auto namespaces, openNamespaces(spec.namespaces));
  const bool tty = spec.tty_slave_fd >= 0;
  Pipe in, out, err, report;
  if (!makePipe(&report) || (!tty && (!makePipe(&out) || !makePipe(&err)))) {
    return sysFail(ErrorCode::kInternal, "pipe2", "O_CLOEXEC", errno);
  }
  UniqueFd null_fd;
  if (tty) {
    // The terminal is all three.
  } else if (spec.attach_stdin) {
    if (!makePipe(&in)) return sysFail(ErrorCode::kInternal, "pipe2", "O_CLOEXEC", errno);
  } else {
    null_fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null_fd.valid()) return sysFail(ErrorCode::kInternal, "open", "/dev/null", errno);
  }
  int fds[kInitFirstPassedFd + kMaxCgroupFiles];
  fds[0] = tty ? spec.tty_slave_fd : spec.attach_stdin ? in.read.get() : null_fd.get();
  fds[1] = tty ? spec.tty_slave_fd : out.write.get();
  fds[2] = tty ? spec.tty_slave_fd : err.write.get();
  fds[3] = message_fd.get();
  fds[4] = report.write.get();
  int count = kInitFirstPassedFd;
  for (const auto& fd : cgroup_fds) fds[count++] = fd.get();

  pid_t helper = ::fork();
  if (helper < 0) return sysFail(ErrorCode::kInternal, "fork", "process helper", errno);
  if (helper == 0) {
    // The forked child: async-signal-safe calls on prepared fds only.
    joinNamespaces(namespaces, report.write.get());
    if (::syscall(SYS_setgroups, 0, nullptr) != 0)
      childFail(report.write.get(), "setgroups", "0", errno);
    execGridInit(spec.init_binary_fd, fds, count, "enter");
  }
  report.write.reset();
  in.read.reset();
  out.write.reset();
  err.write.reset();

  auto started =
      readChildReport(report.read.get(), std::chrono::steady_clock::now() + kStartTimeout);
  if (!started.text.empty() || started.timed_out) {
    ::kill(helper, SIGKILL);
    while (::waitpid(helper, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (started.timed_out) {
      return fail(ErrorCode::kTimeout, "local-namespace: starting '" + spec.argv[0] +
                                           "': not started after " +
                                           std::to_string(kStartTimeout.count()) + " s");
    }
    return fail(ErrorCode::kInternal,
                "local-namespace: starting '" + spec.argv[0] + "': " + started.text);
  }
  LaunchedProcess launched;
  launched.helper_pid = helper;
  launched.stdin_write = std::move(in.write);
  launched.stdout_read = std::move(out.read);
  launched.stderr_read = std::move(err.read);
  return launched;
}

}  // namespace grid::localns
