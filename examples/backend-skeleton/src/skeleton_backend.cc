// NO ISOLATION: processes run directly on the host as children of the server (see the header).
#include "skeleton_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

namespace skeleton {

using grid::ErrorCode;
using grid::fail;
using grid::Result;

namespace {

// system_category().message() rather than strerror(): the latter is not thread-safe.
std::string errnoText(const std::string& what, int err) {
  return what + ": " + std::system_category().message(err);
}

// Move-only owner of one file descriptor; every fd here is opened O_CLOEXEC so a process
// spawned concurrently for another sandbox cannot inherit it (and keep a pipe from hitting EOF).
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// One spawned process, shared by its channel and its sandbox. Its pid doubles as its process
// group id. The lock makes "kill unless reaped" atomic: once reaped, the pid may be reused by an
// unrelated process, so it must never be signalled again.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}

  void killGroup() {
    std::lock_guard lock(mutex_);
    if (status_) return;
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);  // in case it moved itself out of its group
  }

  // The exit status (128+N for signal N) once the process is reaped, else nullopt.
  std::optional<int> reap(bool block) {
    std::lock_guard lock(mutex_);
    int raw = 0;
    if (!status_ && ::waitpid(pid_, &raw, block ? 0 : WNOHANG) == pid_) {
      status_ = WIFSIGNALED(raw) ? 128 + WTERMSIG(raw) : WEXITSTATUS(raw);
    }
    return status_;
  }

 private:
  std::mutex mutex_;
  const pid_t pid_;
  std::optional<int> status_;
};

// A ReadResult without data (kTimeout, kEof).
grid::ReadResult only(grid::ReadResult::Status status) {
  grid::ReadResult result;
  result.status = status;
  return result;
}

class SkeletonChannel : public grid::ProcessChannel {
 public:
  SkeletonChannel(std::shared_ptr<Child> child, Fd in, Fd out, Fd err)
      : child_(std::move(child)), in_(std::move(in)), out_(std::move(out)), err_(std::move(err)) {}

  Result<void> write(std::string_view data) override {
    while (!data.empty()) {
      if (!in_) return fail(ErrorCode::kConflict, "stdin is closed or was not attached");
      // send() with MSG_NOSIGNAL: a process that exited gives EPIPE, not a server-wide SIGPIPE.
      ssize_t n = ::send(in_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(ErrorCode::kConflict, errnoText("write to stdin", errno));
      data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
  }

  void closeStdin() override { in_.reset(); }

  Result<grid::ReadResult> read(grid::Clock::time_point deadline) override {
    using Status = grid::ReadResult::Status;
    while (true) {
      pollfd fds[2];
      Fd* owners[2];
      nfds_t n = 0;
      for (Fd* fd : {&out_, &err_}) {
        if (!*fd) continue;
        fds[n] = {fd->get(), POLLIN, 0};
        owners[n++] = fd;
      }
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - grid::Clock::now());
      int timeout_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, INT_MAX));
      if (n == 0) {
        // Both streams ended; the exit status follows shortly. Poll for it within the deadline.
        if (child_->reap(false)) return only(Status::kEof);
        if (timeout_ms == 0) return only(Status::kTimeout);
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, 10)));
        continue;
      }
      int ready = ::poll(fds, n, timeout_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return fail(ErrorCode::kInternal, errnoText("poll", errno));
      if (ready == 0) return only(Status::kTimeout);
      for (nfds_t i = 0; i < n; ++i) {
        if (fds[i].revents == 0) continue;
        char buf[64 * 1024];
        ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR) break;
        if (got <= 0) {  // EOF (or a broken pipe, which ends the stream just the same)
          owners[i]->reset();
          continue;
        }
        auto stream =
            owners[i] == &out_ ? grid::OutputStream::kStdout : grid::OutputStream::kStderr;
        return grid::ReadResult{Status::kData, stream, std::string(buf, static_cast<size_t>(got))};
      }
    }
  }

  std::optional<int> exitCode() override { return child_->reap(false); }

 private:
  std::shared_ptr<Child> child_;
  Fd in_, out_, err_;
};

// A pipe as two Fds, both O_CLOEXEC; the child gets its end through dup2 (which clears it).
Result<std::pair<Fd, Fd>> makePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail(ErrorCode::kInternal, errnoText("pipe2", errno));
  return std::pair{Fd(fds[0]), Fd(fds[1])};
}

}  // namespace

struct Sandbox {
  std::filesystem::path dir;
  std::vector<std::string> env;  // "KEY=value", passed to every process
  std::mutex mutex;              // guards children and destroyed
  std::vector<std::shared_ptr<Child>> children;
  bool destroyed = false;
};

SkeletonBackend::~SkeletonBackend() {
  // No process or directory may outlive the backend, even if the core left sandboxes behind.
  std::vector<std::string> ids;
  for (const auto& [id, sandbox] : sandboxes_) ids.push_back(id);
  for (const auto& id : ids) (void)destroySandbox(id);
}

Result<void> SkeletonBackend::init(const grid::BackendConfig& config) {
  // Unknown keys are ignored so a grid.ini written for a newer version of this backend loads.
  auto it = config.settings.find("work_root");
  std::filesystem::path work_root = it != config.settings.end() ? it->second : "/tmp/grid-skeleton";
  if (!work_root.is_absolute()) {
    return fail(ErrorCode::kInvalidArgument, "work_root must be absolute: " + work_root.string());
  }
  if (config.instance.empty() || config.instance.find('/') != std::string::npos) {
    return fail(ErrorCode::kInvalidArgument, "bad instance name: '" + config.instance + "'");
  }
  root_ = work_root / config.instance;
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (ec) return fail(ErrorCode::kUnavailable, "mkdir " + root_.string() + ": " + ec.message());
  return {};
}

Result<std::vector<std::string>> SkeletonBackend::removeLeftovers() {
  // Directories only: processes of a crashed run are not tracked (another thing real backends
  // get from their engine, e.g. by label).
  // Listed first, removed after: deleting entries while readdir() walks them is unspecified.
  std::error_code ec;
  std::vector<std::filesystem::path> dirs;
  for (auto it = std::filesystem::directory_iterator(root_, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (!find(it->path().filename().string())) dirs.push_back(it->path());  // skip live ones
  }
  if (ec) return fail(ErrorCode::kInternal, "list " + root_.string() + ": " + ec.message());
  std::vector<std::string> removed;
  for (const auto& dir : dirs) {
    std::filesystem::remove_all(dir, ec);
    if (ec) return fail(ErrorCode::kInternal, "rm -rf " + dir.string() + ": " + ec.message());
    removed.push_back(dir.filename().string());
  }
  return removed;
}

Result<void> SkeletonBackend::createSandbox(const grid::SandboxSpec& spec) {
  // spec.image, spec.limits and spec.network are ignored: there is no image, no cgroup and no
  // network namespace. Any image name is accepted so the core's flows can be tried.
  if (spec.id.empty() || spec.id.find('/') != std::string::npos || spec.id[0] == '.') {
    return fail(ErrorCode::kInvalidArgument, "bad sandbox id: '" + spec.id + "'");
  }
  auto sandbox = std::make_shared<Sandbox>();
  sandbox->dir = root_ / spec.id;
  // A minimal container-like environment instead of the server's own (which may hold secrets).
  std::map<std::string, std::string> env = {
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
      {"HOME", sandbox->dir.string()}};
  for (const auto& [key, value] : spec.env) env[key] = value;
  for (const auto& [key, value] : env) sandbox->env.push_back(key + "=" + value);

  std::lock_guard lock(mutex_);
  if (sandboxes_.count(spec.id)) return fail(ErrorCode::kConflict, "sandbox exists: " + spec.id);
  std::error_code ec;
  if (!std::filesystem::create_directory(sandbox->dir, ec)) {
    std::string why = ec ? ec.message() : "already exists";
    return fail(ErrorCode::kInternal, "mkdir " + sandbox->dir.string() + ": " + why);
  }
  sandboxes_[spec.id] = std::move(sandbox);
  return {};
}

Result<std::unique_ptr<grid::ProcessChannel>> SkeletonBackend::startProcess(
    const std::string& sandbox_id, const grid::ProcessSpec& spec) {
  if (spec.argv.empty()) return fail(ErrorCode::kInvalidArgument, "empty argv");
  // A backend without terminals must say so: run on pipes, a terminal's shell would wait.
  if (spec.tty) return fail(ErrorCode::kUnsupported, "skeleton: no terminals");
  std::shared_ptr<Sandbox> sandbox = find(sandbox_id);
  if (!sandbox) return fail(ErrorCode::kNotFound, "no such sandbox: " + sandbox_id);
  std::lock_guard lock(sandbox->mutex);  // serialises with destroySandbox of the same sandbox
  if (sandbox->destroyed) return fail(ErrorCode::kNotFound, "no such sandbox: " + sandbox_id);
  std::erase_if(sandbox->children, [](auto& child) { return child->reap(false).has_value(); });

  // stdin is a socket rather than a pipe only so write() can use MSG_NOSIGNAL.
  Fd in_parent, in_child;
  if (spec.attach_stdin) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return fail(ErrorCode::kInternal, errnoText("socketpair", errno));
    }
    in_parent.reset(sv[0]);
    in_child.reset(sv[1]);
  } else {
    in_child.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!in_child) return fail(ErrorCode::kInternal, errnoText("open /dev/null", errno));
  }
  auto out = makePipe();
  if (!out) return out.error();
  auto err = makePipe();
  if (!err) return err.error();

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_child.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out.value().second.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err.value().second.get(), 2);
  posix_spawn_file_actions_addchdir_np(&actions, sandbox->dir.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group (setpgid(0,0)) so the core can `kill -INT -- -PID` and destroySandbox can
  // kill the whole group. Default signal mask and dispositions: a server thread may block or
  // ignore signals (SIGINT, SIGPIPE) and children would otherwise inherit that.
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t signals;
  sigemptyset(&signals);
  posix_spawnattr_setsigmask(&attr, &signals);
  sigfillset(&signals);
  posix_spawnattr_setsigdefault(&attr, &signals);

  std::vector<char*> argv, envp;
  for (const auto& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  for (const auto& var : sandbox->env) envp.push_back(const_cast<char*>(var.c_str()));
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  pid_t pid = 0;
  // Note: posix_spawnp searches the server's PATH, not the sandbox's.
  int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    auto code = rc == ENOENT ? ErrorCode::kInvalidArgument : ErrorCode::kInternal;
    return fail(code, errnoText("posix_spawnp " + spec.argv[0], rc));
  }
  // The child's ends (in_child, the write ends) close when this function returns, so the
  // reader sees EOF once the process and its descendants are done.
  auto child = std::make_shared<Child>(pid);
  sandbox->children.push_back(child);
  return std::unique_ptr<grid::ProcessChannel>(
      new SkeletonChannel(std::move(child), std::move(in_parent), std::move(out.value().first),
                          std::move(err.value().first)));
}

Result<void> SkeletonBackend::destroySandbox(const std::string& sandbox_id) {
  std::shared_ptr<Sandbox> sandbox;
  {
    std::lock_guard lock(mutex_);
    auto it = sandboxes_.find(sandbox_id);
    if (it == sandboxes_.end()) return {};  // unknown or already removed: success
    sandbox = std::move(it->second);
    sandboxes_.erase(it);
  }
  std::lock_guard lock(sandbox->mutex);
  sandbox->destroyed = true;
  for (auto& child : sandbox->children) child->killGroup();
  for (auto& child : sandbox->children) child->reap(true);
  std::error_code ec;
  std::filesystem::remove_all(sandbox->dir, ec);
  if (ec) {
    return fail(ErrorCode::kInternal, "rm -rf " + sandbox->dir.string() + ": " + ec.message());
  }
  return {};
}

std::shared_ptr<Sandbox> SkeletonBackend::find(const std::string& sandbox_id) {
  std::lock_guard lock(mutex_);
  auto it = sandboxes_.find(sandbox_id);
  return it == sandboxes_.end() ? nullptr : it->second;
}

}  // namespace skeleton
